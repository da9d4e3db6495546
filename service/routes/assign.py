"""POST /v1/assign (operator): batch assignment over given job ids, delegated to matcher/."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, HTTPException

from gigmatch.core.times import market_now
from matcher.batch import EncodedMarket, run_batch
from service.deps import OperatorAuth, StateDep, work_slot
from service.schemas import ERROR_RESPONSES, AssignRequest, AssignResponse

router = APIRouter(
    prefix="/v1",
    tags=["operators"],
    dependencies=[OperatorAuth],
    responses=ERROR_RESPONSES,
)


@router.post("/assign", response_model=AssignResponse, summary="Assign workers to a batch of jobs")
def assign(body: AssignRequest, state: StateDep) -> dict:
    """Assign stored workers to the slots (``headcount``) of the given stored jobs, solved as one batch.

    Candidates are stored workers within ``max_km`` of each job; the solver maximises the
    ``objective`` over the pairs that pass every hard constraint (and score at least ``min_score``),
    each worker taking at most ``worker_capacity`` jobs. Nothing is stored: the answer is a proposal
    (report hires with ``POST /v1/events``). Every job left with open slots is listed with the first
    reason that applies.

    Needs an operator key (403 for a backend key). 404 when a job id is not stored (the first one is
    named, with how many more); 503 when the server is busy (retry after ``Retry-After`` seconds).
    """
    with work_slot(state):
        snap = state.store.snapshot()
        wanted = list(dict.fromkeys(body.job_ids))
        missing = [j for j in wanted if j not in snap.job_row]
        if missing:
            raise HTTPException(
                404,
                f"unknown job {missing[0]!r}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""),
            )
        # the snapshot is already encoded: the batch takes its jobs' rows (in stored order) as they are
        rows = np.sort(np.fromiter((snap.job_row[j] for j in wanted), dtype=np.int64, count=len(wanted)))
        market = EncodedMarket(snap.workers, snap.jobs.take(rows), snap.history, snap.taxonomy)
        result = run_batch(
            market,
            state.scorer,
            max_km=body.max_km,
            objective=body.objective,
            worker_capacity=body.worker_capacity,
            min_score=body.min_score,
            asof_s=market_now(),
        )
        return {
            "assignments": result.assignments.to_dict("records"),
            "unfilled_jobs": result.unfilled_jobs[["job_id", "open_slots", "reason", "detail"]].to_dict(
                "records"
            ),
            "summary": result.summary,
        }
