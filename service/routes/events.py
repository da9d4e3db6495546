"""POST /v1/events: outcome events, idempotent on event_id, durable before acknowledged."""

from __future__ import annotations

from fastapi import APIRouter

from gigmatch.core.contract import events_from_records
from gigmatch.core.times import market_now
from service.deps import BackendAuth, StateDep
from service.schemas import ERROR_RESPONSES, EventsRequest, EventsResponse

router = APIRouter(
    prefix="/v1",
    tags=["events"],
    dependencies=[BackendAuth],
    responses=ERROR_RESPONSES,
)


@router.post("/events", response_model=EventsResponse, summary="Ingest a batch of outcome events")
def ingest(body: EventsRequest, state: StateDep) -> dict:
    """Store a batch of outcome events (shown, declined, applied, hired, completed, no-show, rated).

    Idempotent on ``event_id`` (default ``job_id|worker_id|event|ts``): an event whose id is already
    stored, or repeats an earlier one in the same batch, is counted as a duplicate and not stored
    again, so a batch can safely be retried. Events are on disk before the response is sent, and
    reach the ranking features (worker history, filled jobs) within the server's refresh interval
    (2 s by default).

    422 when any event is invalid; then nothing of the batch is stored.
    """
    ev = body.events
    frame = events_from_records([e.__dict__ for e in ev])  # validated by the generated EventIn
    within_batch_dupes = len(ev) - len(frame)
    accepted, duplicates = state.store.add_events(frame)
    state.events_in.labels("accepted").inc(accepted)
    state.loop.cases.on_events(frame, market_now())  # a hire closes the worker's case
    state.events_in.labels("duplicate").inc(duplicates + within_batch_dupes)
    return {"accepted": accepted, "duplicates": duplicates + within_batch_dupes}
