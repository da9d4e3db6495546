"""POST /v1/slates (backend or operator): capacity-aware slates for open jobs (service/slates.py)."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, HTTPException

from gigmatch.core.times import market_now
from service.deps import BackendAuth, StateDep, work_slot
from service.schemas import ERROR_RESPONSES, SlatesRequest, SlatesResponse
from service.slates import plan_job_slates, require_calibration

router = APIRouter(prefix="/v1", tags=["ranking"], dependencies=[BackendAuth], responses=ERROR_RESPONSES)


@router.post("/slates", response_model=SlatesResponse, summary="Plan who each open job is shown to")
def slates(body: SlatesRequest, state: StateDep) -> dict:
    """Choose up to ``slate_size`` workers for each job so that no worker holds more than
    ``max_per_worker`` offers (counting their shows of the last ``window_hours``) and the expected
    number of completed matches (the sum of calibrated ``p_match``) is the highest possible, exactly
    (an exact b-matching; the long-waiting minimum is a side constraint, with a proven bound reported
    in ``plan``). ``exposure`` compares the plan with relevance-only lists over the same candidates.

    Nothing is stored: report what was shown with ``POST /v1/events`` (``shown``), which is what the
    next plan counts as held offers. 404 when a job id is not stored (the first named); 409 when the
    serving model has no calibrated probability (trained before calibration existed: retrain it); 503
    when the server is busy (retry after ``Retry-After`` seconds).
    """
    with work_slot(state):
        snap = state.store.snapshot()
        if body.job_ids is None:
            rows = np.flatnonzero(snap.job_open)
        else:
            wanted = list(dict.fromkeys(body.job_ids))
            missing = [j for j in wanted if j not in snap.job_row]
            if missing:
                raise HTTPException(
                    404,
                    f"unknown job {missing[0]!r}"
                    + (f" and {len(missing) - 1} more" if len(missing) > 1 else ""),
                )
            rows = np.fromiter((snap.job_row[j] for j in wanted), dtype=np.int64, count=len(wanted))
        events = state.store.market(events=True).events if body.head_start_hours > 0 else None
        require_calibration(state.scorer)
        result = plan_job_slates(
            snap,
            state.scorer,
            rows.astype(np.int64),
            slate_size=body.slate_size,
            max_per_worker=body.max_per_worker,
            window_hours=body.window_hours,
            max_km=body.max_km or state.settings.default_max_km,
            long_waiting_days=body.long_waiting_days,
            long_waiting_share=body.long_waiting_share,
            head_start_hours=body.head_start_hours,
            now_s=market_now(),
            events=events,
            blocked=state.loop.cases.blocked_rows(snap.workers.ids),
        )
        return {"model_version": state.scorer.version, **result}
