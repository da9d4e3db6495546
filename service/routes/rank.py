"""POST /v1/rank (workers for a job) and POST /v1/recommend (jobs for a worker)."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Response

from gigmatch.core.times import market_now
from service.deps import BackendAuth, StateDep, row_of, work_slot
from service.ranking import encode_request_job, encode_request_worker, rank_job, recommend_jobs
from service.schemas import (
    ERROR_RESPONSES,
    RankRequest,
    RankResponse,
    RecommendRequest,
    RecommendResponse,
    contract_row,
)
from service.slates import require_calibration

router = APIRouter(prefix="/v1", tags=["ranking"], dependencies=[BackendAuth], responses=ERROR_RESPONSES)


@router.post(
    "/rank",
    response_model=RankResponse,
    response_model_exclude_unset=True,  # p_match / offers_held only with exposure_aware
    summary="Rank candidate workers for a job",
)
def rank(body: RankRequest, state: StateDep, response: Response) -> dict:
    """Rank the workers who may take a job, best first, each with a few reasons.

    The job is a stored one (``job_id``) or sent inline (``job``, not stored). Candidates are the
    stored workers within ``max_km`` of the job site, or only the given ``candidate_ids``. Pairs that
    break a hard constraint (blacklisted employer, missing or expired certificate, no matching
    skill, beyond the worker's travel limit or the radius) are never listed; ``excluded`` counts them
    by reason (``unknown_worker`` counts candidate ids that are not stored). When nobody is listed,
    ``message`` says why. With ``exposure_aware`` the order is the calibrated P(completed) discounted
    for the offers each worker already holds (shows of the last 24 h), given as ``p_match``.

    The ``Server-Timing`` header gives the time spent per phase (retrieval, features, model).
    404 for an unknown ``job_id``; 503 when the server is busy (retry after ``Retry-After`` seconds).
    """
    with work_slot(state):
        snap = state.store.snapshot()
        scorer = state.scorer
        max_km = body.max_km or state.settings.default_max_km
        if body.job_id is not None:
            jobs, j = snap.jobs, row_of(snap.job_row, body.job_id, "job")
        else:
            jobs, j = encode_request_job(snap, contract_row(body.job, job_id="request")), 0
        excluded_unknown = 0
        rows = None
        if body.candidate_ids is not None:
            get = snap.worker_row.get
            idx = np.fromiter((get(c, -1) for c in dict.fromkeys(body.candidate_ids)), dtype=np.int64)
            excluded_unknown = int((idx < 0).sum())
            rows = idx[idx >= 0].astype(np.int64)
        timings: dict = {}
        if body.exposure_aware:
            require_calibration(scorer)
        candidates, excluded, message = rank_job(
            snap,
            scorer,
            jobs,
            j,
            rows,
            max_km,
            body.limit,
            market_now(),
            timings,
            rerank_top=state.settings.rerank_top,
            blocked=state.loop.cases.blocked_rows(snap.workers.ids),
            exposure_aware=body.exposure_aware,
        )
        # per-phase server time (ms) for clients and benchmarks; serialisation = total - these
        response.headers["Server-Timing"] = (
            ", ".join(f"{k};dur={1000 * v:.3f}" for k, v in timings.items() if k != "candidates")
            + f", candidates;desc={timings['candidates']}"
        )
        if excluded_unknown:
            excluded["unknown_worker"] = excluded_unknown
        if message and rows is not None and len(rows) == 0:
            message = "none of the given candidate_ids is a stored worker"
        return {
            "model_version": scorer.version,
            "candidates": candidates,
            "excluded": excluded,
            "message": message,
        }


@router.post("/recommend", response_model=RecommendResponse, summary="Recommend open jobs to a worker")
def recommend(body: RecommendRequest, state: StateDep) -> dict:
    """Recommend open jobs to a worker, best first, each with a few reasons.

    The worker is a stored one (``worker_id``) or sent inline (``worker``, not stored). Only open jobs
    are considered: not yet filled, not yet started, employer not blacklisted. The radius is
    ``max_km``, by default the worker's own ``max_travel_km``. ``excluded`` counts the open jobs
    within the radius that the worker may not take, by reason. When none is listed, ``message`` says
    why and ``what_would_change`` says what would qualify the worker (a certificate, a longer trip).

    404 for an unknown ``worker_id``; 503 when the server is busy (retry after ``Retry-After`` seconds).
    """
    with work_slot(state):
        snap = state.store.snapshot()
        scorer = state.scorer
        if body.worker_id is not None:
            W, w = snap.workers, row_of(snap.worker_row, body.worker_id, "worker")
        else:
            W, w = encode_request_worker(contract_row(body.worker, worker_id="request"), snap), 0
        result = recommend_jobs(
            snap, scorer, W, w, body.max_km, body.limit, market_now(), state.settings.rerank_top
        )
        return {"model_version": scorer.version, **result}
