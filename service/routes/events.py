"""POST /v1/events: outcome events, idempotent on event_id, durable before acknowledged."""

from __future__ import annotations

import pandas as pd
from fastapi import APIRouter

from gigmatch.contract import validate_table
from service.app import BackendAuth, StateDep
from service.schemas import ERROR_RESPONSES, EventsRequest, EventsResponse

router = APIRouter(
    prefix="/v1",
    tags=["events"],
    dependencies=[BackendAuth],
    responses=ERROR_RESPONSES,
)


@router.post("/events", response_model=EventsResponse, summary="Ingest a batch of outcome events")
def ingest(body: EventsRequest, state: StateDep) -> dict:
    rows = [
        {
            "ts": e.ts.isoformat(),
            "job_id": e.job_id,
            "worker_id": e.worker_id,
            "event": e.event,
            "rating": "" if e.rating is None else e.rating,
            "event_id": e.event_id or "",
        }
        for e in body.events
    ]
    frame = validate_table(pd.DataFrame(rows).astype(str).replace("None", ""), "events", source="events")
    within_batch_dupes = len(rows) - len(frame)
    accepted, duplicates = state.store.add_events(frame)
    state.events_in.labels("accepted").inc(accepted)
    state.events_in.labels("duplicate").inc(duplicates + within_batch_dupes)
    return {"accepted": accepted, "duplicates": duplicates + within_batch_dupes}
