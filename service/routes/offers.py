"""GET /v1/offers (backend): the real-time dispatch's offers (issue #15), in cursor order."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from service.deps import BackendAuth, StateDep
from service.dispatch import read_offers
from service.schemas import ERROR_RESPONSES

router = APIRouter(prefix="/v1", tags=["dispatch"], responses=ERROR_RESPONSES)


class OfferOut(BaseModel):
    """One offer of one job slot to one worker (times ISO, market time)."""

    offer_id: str
    cursor: int
    job_id: str
    worker_id: str
    score: float
    distance_km: float
    window_start: str
    expires_at: str


class OffersPage(BaseModel):
    """A page of offers; ``next_cursor`` is where the next page starts."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "offers": [
                        {
                            "offer_id": "j_123|w_456",
                            "cursor": 7,
                            "job_id": "j_123",
                            "worker_id": "w_456",
                            "score": 0.81,
                            "distance_km": 3.2,
                            "window_start": "2026-09-10T08:00:00",
                            "expires_at": "2026-09-10T08:05:10",
                        }
                    ],
                    "next_cursor": 7,
                }
            ]
        }
    )

    offers: list[OfferOut]
    next_cursor: int


@router.get("/offers", response_model=OffersPage, dependencies=[BackendAuth], summary="Dispatch offers")
def offers(
    state: StateDep,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="cursor of the last offer read; 0 = from the start")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    """Offers made by real-time dispatch (``GIGMATCH_DISPATCH_WINDOW_S``), in cursor order after ``after``.

    Each offer holds one slot of a job for one worker until ``expires_at``; the platform reports the
    worker's acceptance with a ``hired`` event (``POST /v1/events``), else the slot is offered to the
    next best worker in a later window. Resumable from any cursor, across restarts; ``next_cursor`` is
    the last cursor of the page (``after`` when the page is empty). Empty when dispatch is off.
    """
    rows = read_offers(state.store, after=after, limit=limit)
    return {"offers": rows, "next_cursor": rows[-1]["cursor"] if rows else after}
