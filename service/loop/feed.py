"""The answer feed: one ordered stream of answers, read by cursor and delivered by webhook.

:func:`publish_answer` is the one way anything puts an answer to a worker or a job in front of the
platform (the answer loop does; dispatch offers are meant to as well). An answer is a row of the
repository's stream ``answers``; its sequence number is its ``cursor``. Readers page with
``read_answers(after=cursor)``: the rows come in cursor order, and since the cursor only grows and a
row is committed before its cursor is visible, paging from any cursor skips nothing and repeats
nothing, across restarts as well.
"""

from __future__ import annotations

import uuid

import pandas as pd

from gigmatch.core.times import market_now
from service.store.repository import MarketRepository

ANSWER_STREAM = "answers"
ANSWER_KINDS = ("worker", "job")


def answer_row(kind: str, entity_id: str, content: dict, created_s: float | None = None) -> dict:
    """The stored form of one answer: ``answer_id``, ``kind``, ``worker_id`` or ``job_id``,
    ``created_at`` (ISO market time) and ``content``.

    Raises
    ------
    ValueError
        When ``kind`` is not ``"worker"`` or ``"job"``.
    """
    if kind not in ANSWER_KINDS:
        raise ValueError(f"answer kind {kind!r}: expected one of {', '.join(ANSWER_KINDS)}")
    at = market_now() if created_s is None else created_s
    return {
        "answer_id": uuid.uuid4().hex,
        "kind": kind,
        f"{kind}_id": str(entity_id),
        "created_at": pd.Timestamp(at, unit="s").floor("ms").isoformat(),
        "created_s": float(at),
        "content": content,
    }


def publish_answers(repo: MarketRepository, rows: list[dict]) -> list[dict]:
    """Append answer rows (from :func:`answer_row`) in one commit; returns them with their ``cursor``."""
    if not rows:
        return []
    seqs = repo.append(ANSWER_STREAM, rows)
    return [{**r, "cursor": s} for r, s in zip(rows, seqs, strict=True)]


def publish_answer(repo: MarketRepository, kind: str, entity_id: str, content: dict) -> dict:
    """Publish one answer to a worker (``kind="worker"``) or a job (``"job"``) now.

    Parameters
    ----------
    repo : MarketRepository
        The service's repository (``state.store.repo``).
    kind : {"worker", "job"}
    entity_id : str
        The worker or job id.
    content : dict
        JSON-serialisable content: by convention ``code`` (a code of :mod:`gigmatch.core.labels`),
        ``message`` (Chinese), ``message_en``, and whatever the kind of answer carries.

    Returns
    -------
    dict
        The published row, with its ``answer_id`` and ``cursor``; it is committed when this returns,
        and the webhook (when configured) will deliver it.
    """
    return publish_answers(repo, [answer_row(kind, entity_id, content)])[0]


def read_answers(repo: MarketRepository, after: int = 0, limit: int = 100) -> list[dict]:
    """Up to ``limit`` answers with cursor > ``after``, in cursor order."""
    return [{**row, "cursor": seq} for seq, row in repo.read_stream(ANSWER_STREAM, after=after, limit=limit)]
