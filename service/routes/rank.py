"""POST /v1/rank (workers for a job) and POST /v1/recommend (jobs for a worker)."""

from __future__ import annotations

import time

import numpy as np
from fastapi import APIRouter, HTTPException, Response

from service.app import BackendAuth, StateDep, work_slot
from service.ranking import encode_request_job, encode_request_worker, rank_job, recommend_jobs
from service.schemas import (
    ERROR_RESPONSES,
    RankRequest,
    RankResponse,
    RecommendRequest,
    RecommendResponse,
)

router = APIRouter(prefix="/v1", tags=["ranking"], dependencies=[BackendAuth], responses=ERROR_RESPONSES)


def _row(model) -> dict:
    """A pydantic body as a contract row (lists joined with ';', times as ISO strings)."""
    out = {}
    for k, v in model.model_dump(exclude_none=True).items():
        out[k] = ";".join(v) if isinstance(v, list) else v.isoformat() if hasattr(v, "isoformat") else v
    return out


@router.post("/rank", response_model=RankResponse, summary="Rank candidate workers for a job")
def rank(body: RankRequest, state: StateDep, response: Response) -> dict:
    with work_slot(state):
        snap = state.store.snapshot()
        scorer = state.scorer
        max_km = body.max_km or state.settings.default_max_km
        if body.job_id is not None:
            pos = snap.job_row.get(body.job_id, -1)
            if pos < 0:
                raise HTTPException(404, f"unknown job {body.job_id!r}")
            jobs, j = snap.jobs, int(pos)
        else:
            jobs, j = encode_request_job(snap, {"job_id": "request", **_row(body.job)}), 0
        excluded_unknown = 0
        rows = None
        if body.candidate_ids is not None:
            get = snap.worker_row.get
            idx = np.fromiter((get(c, -1) for c in dict.fromkeys(body.candidate_ids)), dtype=np.int64)
            excluded_unknown = int((idx < 0).sum())
            rows = idx[idx >= 0].astype(np.int64)
        timings: dict = {}
        candidates, excluded, _ = rank_job(
            snap,
            scorer,
            jobs,
            j,
            rows,
            max_km,
            body.limit,
            time.time(),
            timings,
            rerank_top=state.settings.rerank_top,
        )
        # per-phase server time (ms) for clients and benchmarks; serialisation = total - these
        response.headers["Server-Timing"] = (
            ", ".join(f"{k};dur={1000 * v:.3f}" for k, v in timings.items() if k != "candidates")
            + f", candidates;desc={timings['candidates']}"
        )
        if excluded_unknown:
            excluded["unknown_worker"] = excluded_unknown
        return {"model_version": scorer.version, "candidates": candidates, "excluded": excluded}


@router.post("/recommend", response_model=RecommendResponse, summary="Recommend open jobs to a worker")
def recommend(body: RecommendRequest, state: StateDep) -> dict:
    with work_slot(state):
        snap = state.store.snapshot()
        scorer = state.scorer
        if body.worker_id is not None:
            pos = snap.worker_row.get(body.worker_id, -1)
            if pos < 0:
                raise HTTPException(404, f"unknown worker {body.worker_id!r}")
            W, w = snap.workers, int(pos)
        else:
            W, w = encode_request_worker(_row_with_id(body.worker), snap), 0
        result = recommend_jobs(
            snap, scorer, W, w, body.max_km, body.limit, time.time(), state.settings.rerank_top
        )
        return {"model_version": scorer.version, **result}


def _row_with_id(worker) -> dict:
    return {"worker_id": "request", **_row(worker)}
