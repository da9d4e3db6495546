"""POST /v1/assign (operator): batch assignment over given job ids, delegated to matcher/."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from gigmatch.core.times import market_now
from matcher.batch import run_batch
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
        market = state.store.market()
        wanted = list(dict.fromkeys(body.job_ids))
        known = set(market.jobs["job_id"])
        missing = [j for j in wanted if j not in known]
        if missing:
            raise HTTPException(
                404,
                f"unknown job {missing[0]!r}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""),
            )
        market.jobs = market.jobs[market.jobs["job_id"].isin(wanted)].reset_index(drop=True)
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
