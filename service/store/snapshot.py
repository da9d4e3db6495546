"""The read snapshot: the stored market encoded for scoring, and the rules that derive from it.

A :class:`Snapshot` is immutable; the store swaps a new one in atomically, so a request never waits
and never sees half an update. Building one encodes the entity tables (O(market)); event-derived
state (worker history, hires, which jobs are open) is applied incrementally on top of the previous
snapshot whenever the worker order allows it (:func:`build`), which is what keeps event ingestion
cheap.

The **open-job rule** lives here (:func:`with_history`): a job is open when it is not filled (distinct
hired workers < headcount), has not started (market time), and its employer is not blacklisted;
``/v1/recommend`` never shows any other job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features.encode import JobTable, WorkerTable, encode_jobs, encode_workers
from features.history import WorkerHistory
from features.market import MarketStats
from gigmatch.core.contract import Market, empty_table
from gigmatch.core.taxonomy import Taxonomy
from gigmatch.core.times import market_now
from matcher.retrieval import GeoIndex


@dataclass(frozen=True)
class Snapshot:
    """Everything a request reads, consistent with itself. Shapes are (n_workers,) / (n_jobs,)."""

    workers: WorkerTable
    jobs: JobTable
    history: WorkerHistory
    worker_index: GeoIndex  # worker homes, for radius queries
    job_index: GeoIndex  # job sites, for radius queries
    job_open: np.ndarray  # (n_jobs,) bool: not filled, not started, employer not blacklisted
    job_hired: np.ndarray  # (n_jobs,) distinct workers hired so far
    stats: MarketStats  # point-in-time market statistics over the stored jobs
    taxonomy: Taxonomy  # the market's vocabulary (its own, seeded with it, or the built-in one)
    employers: pd.DataFrame
    built_at: float  # time.time() of the build
    job_row: dict  # job_id -> row in ``jobs``
    worker_row: dict  # worker_id -> row in ``workers``


class HiredPairs:
    """The distinct (job_id, worker_id) pairs hired so far: a re-sent or repeated hire of the same
    worker for the same job is not another filled slot."""

    def __init__(self) -> None:
        self._pairs: set[tuple[str, str]] = set()

    def reset(self, events: pd.DataFrame) -> None:
        """Forget everything and count the hires in ``events`` (the whole log)."""
        hired = events.loc[events["event"] == "hired", ["job_id", "worker_id"]]
        self._pairs = set(zip(hired["job_id"], hired["worker_id"], strict=True))

    def add(self, events: pd.DataFrame) -> list[str]:
        """Count the hires in ``events`` (logged later); returns the job id of each new pair."""
        hired = events.loc[events["event"] == "hired", ["job_id", "worker_id"]]
        fresh = []
        for pair in zip(hired["job_id"], hired["worker_id"], strict=True):
            if pair not in self._pairs:
                self._pairs.add(pair)
                fresh.append(pair[0])
        return fresh

    def per_job(self, job_ids: np.ndarray) -> np.ndarray:
        """Distinct hired workers per job, shape (n_jobs,)."""
        counts = pd.Series([job for job, _ in self._pairs], dtype=object).value_counts()
        return counts.reindex(job_ids).fillna(0).to_numpy(dtype=np.int64)


def encode(market: Market) -> Snapshot:
    """A snapshot of the entities of ``market`` with no event-derived state yet."""
    W = encode_workers(market.workers, market.taxonomy)
    stats = MarketStats.from_jobs(market.jobs)
    J = encode_jobs(market.jobs, W, market.employers, stats=stats, taxonomy=market.taxonomy)
    return Snapshot(
        workers=W,
        jobs=J,
        history=WorkerHistory.empty(W.ids),
        worker_index=GeoIndex(W.lat, W.lon),
        job_index=GeoIndex(J.lat, J.lon),
        job_open=np.zeros(len(J), dtype=bool),
        job_hired=np.zeros(len(J), dtype=np.int64),
        stats=stats,
        taxonomy=market.taxonomy,
        employers=market.employers,
        built_at=time.time(),
        job_row={j: i for i, j in enumerate(J.ids)},
        worker_row={w: i for i, w in enumerate(W.ids)},
    )


def build(
    market: Market,
    previous: Snapshot | None,
    pending: list[pd.DataFrame],
    log: list[pd.DataFrame],
    hired: HiredPairs,
) -> Snapshot:
    """A snapshot of ``market``'s entities; event state carried over from ``previous`` when it fits.

    When the previous worker order is unchanged or only extended (a job or employer write, an update
    of a known worker, which keeps its row; a new worker, appended) the previous history is kept, new
    workers' logged events are merged in, and ``pending`` (the events accepted since the previous
    snapshot, the tail of ``log``) is applied incrementally; otherwise (a worker deleted) the history
    is derived from the whole ``log``.
    """
    base = encode(market)
    W = base.workers
    n_old = len(previous.workers.ids) if previous is not None else -1
    if 0 <= n_old <= len(W.ids) and np.array_equal(previous.workers.ids, W.ids[:n_old]):
        history = previous.history
        if len(W.ids) > n_old:  # new workers were appended: add their events logged so far
            events = concat_events(log)
            logged = events.iloc[: len(events) - sum(len(p) for p in pending)]
            theirs = logged[logged["worker_id"].isin(W.ids[n_old:])]
            history = history.extended(theirs, worker_ids=W.ids)
        snap = with_history(base, history, hired.per_job(base.jobs.ids))
        return with_new_events(snap, concat_events(pending), hired) if pending else snap
    events = concat_events(log)
    hired.reset(events)
    return with_history(base, WorkerHistory(events, W.ids), hired.per_job(base.jobs.ids))


def with_new_events(snap: Snapshot, events: pd.DataFrame, hired: HiredPairs) -> Snapshot:
    """``snap`` with ``events`` (logged after its own) applied incrementally."""
    job_hired = snap.job_hired.copy()
    for job_id in hired.add(events):
        row = snap.job_row.get(job_id)
        if row is not None:
            job_hired[row] += 1
    return with_history(snap, snap.history.extended(events), job_hired)


def with_history(snap: Snapshot, history: WorkerHistory, job_hired: np.ndarray) -> Snapshot:
    """``snap`` with new event-derived state, and the open-job rule applied as of now."""
    J = snap.jobs
    started = np.nan_to_num(J.start_s, nan=np.inf) <= market_now()
    job_open = (job_hired < J.headcount) & ~started & ~J.employer_blacklisted
    return replace(snap, history=history, job_open=job_open, job_hired=job_hired, built_at=time.time())


def concat_events(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One events frame from a list of them (the empty table for none)."""
    if not frames:
        return empty_table("events")
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
