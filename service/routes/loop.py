"""The answer loop's endpoints: close a case, read a case, the answer feed, follow-ups, loop figures."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from gigmatch.core.times import TimeValueError, market_now, to_market_time
from service.deps import BackendAuth, OperatorAuth, StateDep
from service.loop.feed import read_answers
from service.schemas import ERROR_RESPONSES, NO_CONTROL, Strict

router = APIRouter(prefix="/v1", tags=["answers"], responses=ERROR_RESPONSES)
PathId = Annotated[str, Path(min_length=1, max_length=200)]


class CloseCaseRequest(Strict):
    """Why the platform closes a worker's case."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "found_work_elsewhere", "note": "回访：已在镇上工厂上班"}]
        },
    )

    reason: Literal["found_work_elsewhere", "not_looking", "unreachable", "other"] = Field(
        description="found_work_elsewhere, not_looking, unreachable or other"
    )
    note: str = Field("", max_length=500, pattern=NO_CONTROL, description="free text for operators")


class HistoryEntry(BaseModel):
    """One opening or closing of a case (``at``: ISO market time)."""

    action: str
    outcome: str | None = None
    note: str = ""
    at: str


class CaseOut(BaseModel):
    """A case: ``status`` open or closed, its ``outcome`` and history (times ISO, market time)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "worker",
                    "id": "w000123",
                    "status": "closed",
                    "outcome": "found_work_elsewhere",
                    "note": "",
                    "opened_at": "2026-11-20T09:00:00",
                    "closed_at": "2026-11-23T15:30:00",
                    "history": [
                        {"action": "opened", "outcome": None, "note": "", "at": "2026-11-20T09:00:00"},
                        {
                            "action": "closed",
                            "outcome": "found_work_elsewhere",
                            "note": "",
                            "at": "2026-11-23T15:30:00",
                        },
                    ],
                }
            ]
        }
    )

    kind: str
    id: str
    status: str
    outcome: str | None = None
    note: str = ""
    opened_at: str
    closed_at: str | None = None
    history: list[HistoryEntry] = []


class AnswerOut(BaseModel):
    """One answer of the feed; ``content`` holds ``code``, ``message`` (Chinese), ``message_en``, the
    ranked ``jobs`` (worker answers) or ``workers`` (job answers) and ``what_would_change``."""

    answer_id: str
    cursor: int
    kind: str
    worker_id: str | None = None
    job_id: str | None = None
    created_at: str
    content: dict[str, Any]


class AnswersPage(BaseModel):
    """A page of the feed in cursor order; ask again with ``after=next_cursor`` for the next one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "answers": [
                        {
                            "answer_id": "5f0c6a2e9b7d4c1f8e3a2b1c0d9e8f7a",
                            "cursor": 42,
                            "kind": "worker",
                            "worker_id": "w000123",
                            "created_at": "2026-11-23T15:30:01.250000",
                            "content": {
                                "code": "jobs_need_certificate",
                                "label": "附近岗位需要您没有的证书",
                                "message": "暂时没有适合您的岗位：附近岗位需要您没有的证书；取得welding_cert证书，可以做附近3个岗位，最近的2.1公里",
                                "message_en": "no open job you qualify for yet: nearby jobs need a certificate",
                                "jobs": [],
                                "what_would_change": [
                                    {
                                        "code": "need_certificate",
                                        "certificate": "welding_cert",
                                        "jobs": 3,
                                        "nearest_km": 2.1,
                                        "text": "取得welding_cert证书，可以做附近3个岗位，最近的2.1公里",
                                        "text_en": "a welding_cert certificate would qualify you for 3 nearby jobs, nearest 2.1 km",
                                    }
                                ],
                            },
                        }
                    ],
                    "next_cursor": 42,
                }
            ]
        }
    )

    answers: list[AnswerOut]
    next_cursor: int


class Followup(BaseModel):
    """An open worker case due a follow-up call."""

    worker_id: str
    days_waiting: float
    opened_at: str | None = None
    last_answer_at: str | None = None
    last_code: str | None = None
    last_label: str | None = None
    answers: int
    profile_changed: bool
    events_since: dict[str, int]


class FollowupsOut(BaseModel):
    """Follow-ups due at ``as_of`` (longest waiting first)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-01T09:00:00",
                    "followup_days": 7.0,
                    "followups": [
                        {
                            "worker_id": "w000123",
                            "days_waiting": 8.0,
                            "opened_at": "2026-11-23T09:00:00",
                            "last_answer_at": "2026-11-23T09:00:01",
                            "last_code": "jobs_found",
                            "last_label": "为您找到合适的岗位",
                            "answers": 1,
                            "profile_changed": False,
                            "events_since": {"shown": 3},
                        }
                    ],
                }
            ]
        }
    )

    as_of: str
    followup_days: float
    followups: list[Followup]


class LoopRunner(BaseModel):
    """Where the answer loop runs in this replica."""

    mode: Literal["process", "thread", "off"] = Field(
        description="its own process at a lower CPU priority (default), a thread of the server, or off"
    )
    pid: int | None = Field(None, description="the loop process's id, once it is up")
    restarts: int = Field(0, description="times the loop process died and was started again")
    model: str | None = Field(None, description="the model version the loop answers with")


class LoopStats(BaseModel):
    """The loop's figures (see README "Every request gets an answer")."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-11-23T15:30:00",
                    "open_cases": {"worker": 9120, "job": 412},
                    "unanswered_open": {"worker": 0, "job": 0},
                    "closed_by_outcome": {
                        "worker": {"hired": 640, "found_work_elsewhere": 35},
                        "job": {"filled": 380},
                    },
                    "answered_within_sla": 1.0,
                    "sla_s": 3600.0,
                    "median_first_answer_s": 1.2,
                    "followups_due": 57,
                    "followup_days": 7.0,
                    "runner": {
                        "mode": "process",
                        "pid": 4242,
                        "restarts": 0,
                        "model": "20261123T1519-65c3d8-s1",
                    },
                }
            ]
        }
    )

    as_of: str
    open_cases: dict[str, int]
    unanswered_open: dict[str, int]
    closed_by_outcome: dict[str, dict[str, int]]
    answered_within_sla: float | None = None
    sla_s: float
    median_first_answer_s: float | None = None
    followups_due: int
    followup_days: float
    runner: LoopRunner


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else pd.Timestamp(seconds, unit="s").floor("s").isoformat()


def _as_of(value: str | None) -> float:
    """``as_of`` read by the contract's time rule, in market seconds; now when not given; 422 if bad."""
    if value is None:
        return market_now()
    try:
        ts = to_market_time(value)
    except (TimeValueError, ValueError, OverflowError) as exc:
        raise HTTPException(422, f"as_of: {exc}".splitlines()[0]) from None
    if ts is None:
        raise HTTPException(422, "as_of: is empty")
    return ts.value / 1e9


def _case_out(state, kind: str, entity_id: str) -> dict:
    case = state.loop.cases.get(kind, entity_id)
    if case is None:
        raise HTTPException(404, f"no case for {kind} {entity_id!r}")
    history = [{**h, "at": _iso(h["at"])} for h in state.loop.cases.history(kind, entity_id)]
    return {
        **case,
        "opened_at": _iso(case["opened_at"]),
        "closed_at": _iso(case.get("closed_at")),
        "history": history,
    }


@router.post(
    "/cases/workers/{worker_id}/close",
    response_model=CaseOut,
    dependencies=[BackendAuth],
    summary="Close a worker's case (found work elsewhere, not looking, unreachable, other)",
)
def close_worker_case(worker_id: PathId, body: CloseCaseRequest, state: StateDep) -> dict:
    """Close the worker's open case with a reason and note. The worker is not ranked for jobs and
    gets no answers until a ``PUT /v1/workers/{id}`` re-opens the case.

    404 for a worker without a case; 409 when the case is already closed (its outcome is named).
    """
    cases = state.loop.cases
    case = cases.get("worker", worker_id)
    if case is None:
        if worker_id not in state.store.snapshot().worker_row:
            raise HTTPException(404, f"unknown worker {worker_id!r}")
        cases.on_put("worker", worker_id, market_now())  # stored before the loop opened its case
    if cases.close("worker", worker_id, body.reason, market_now(), body.note) is None:
        outcome = (cases.get("worker", worker_id) or {}).get("outcome")
        raise HTTPException(409, f"the case of worker {worker_id!r} is already closed ({outcome})")
    return _case_out(state, "worker", worker_id)


@router.get(
    "/cases/workers/{worker_id}",
    response_model=CaseOut,
    dependencies=[BackendAuth],
    summary="A worker's case",
)
def worker_case(worker_id: PathId, state: StateDep) -> dict:
    """The worker's case and its history. 404 when the worker has none."""
    return _case_out(state, "worker", worker_id)


@router.get(
    "/cases/jobs/{job_id}", response_model=CaseOut, dependencies=[BackendAuth], summary="A job's case"
)
def job_case(job_id: PathId, state: StateDep) -> dict:
    """The job's case and its history. 404 when the job has none."""
    return _case_out(state, "job", job_id)


@router.get("/answers", response_model=AnswersPage, dependencies=[BackendAuth], summary="The answer feed")
def answers(
    state: StateDep,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="cursor of the last answer read; 0 = from the start")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    """Answers to workers and jobs in cursor order, after ``after``.

    Resumable from any cursor: each page starts right after the one before, nothing is skipped or
    repeated, across restarts too. ``next_cursor`` is the last cursor of the page (``after`` when the
    page is empty).
    """
    rows = read_answers(state.store.repo, after=after, limit=limit)
    for r in rows:
        r.pop("created_s", None)
    return {"answers": rows, "next_cursor": rows[-1]["cursor"] if rows else after}


@router.get("/followups", response_model=FollowupsOut, dependencies=[OperatorAuth], summary="Follow-ups due")
def followups(
    state: StateDep,
    as_of: Annotated[
        str | None, Query(max_length=64, description="ISO time; default now (market time)")
    ] = None,
) -> dict:
    """Open worker cases whose last answer is ``GIGMATCH_FOLLOWUP_DAYS`` (7) or more days before
    ``as_of`` with no ``applied`` or ``hired`` since, longest waiting first, each with what changed
    since the last answer, for a follow-up call (回访). 422 for a bad ``as_of``."""
    at = _as_of(as_of)
    return {
        "as_of": _iso(at),
        "followup_days": state.settings.followup_days,
        "followups": state.loop.followups(at),
    }


@router.get(
    "/loop/stats", response_model=LoopStats, dependencies=[OperatorAuth], summary="The loop's figures"
)
def loop_stats(
    state: StateDep,
    as_of: Annotated[
        str | None, Query(max_length=64, description="ISO time; default now (market time)")
    ] = None,
) -> dict:
    """Open cases by kind, the share answered within the SLA, the median time to first answer,
    follow-ups due and closed cases by outcome (also exported as Prometheus gauges)."""
    return state.loop.stats(_as_of(as_of))
