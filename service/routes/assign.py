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
