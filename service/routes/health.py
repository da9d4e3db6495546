"""Health checks (no key) and Prometheus metrics (backend key)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.deps import BackendAuth, StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(state: StateDep) -> dict:
    """Readiness: the store is open and the model loaded."""
    counts = state.store.counts()
    return {
        "status": "ready",
        "model_version": state.scorer.version,
        "workers": counts["workers"],
        "jobs": counts["jobs"],
    }


@router.get("/metrics", response_class=PlainTextResponse, dependencies=[BackendAuth])
def metrics(state: StateDep) -> PlainTextResponse:
    """Prometheus metrics: latency per endpoint and status, model version, store sizes, refusals."""
    for table, n in state.store.counts().items():
        state.store_size.labels(table).set(n)
    state.loop.update_gauges()
    return PlainTextResponse(generate_latest(state.metrics), media_type=CONTENT_TYPE_LATEST)
