"""POST /v1/rank (workers for a job) and POST /v1/recommend (jobs for a worker)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
from fastapi import APIRouter, Response

from gigmatch.core.times import market_now
from service.deps import BackendAuth, StateDep, row_of, work_slot
from service.experiments import team_draft
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
        unit = body.job_id if body.job_id is not None else unit_of(body.job)
        arms = experiment_arms(state, unit, "/v1/rank")
        if body.exposure_aware:
            for arm_scorer in arms.scorers if arms else [scorer]:
                require_calibration(arm_scorer)
        now = market_now()
        blocked = state.loop.cases.blocked_rows(snap.workers.ids)
        lists = [
            rank_job(
                snap,
                arm_scorer,
                jobs,
                j,
                rows,
                max_km,
                body.limit,
                now,
                timings,
                rerank_top=state.settings.rerank_top,
                blocked=blocked,
                exposure_aware=body.exposure_aware,
            )
            for arm_scorer in (arms.scorers if arms else [scorer])
        ]
        candidates, excluded, message = lists[0]
        # per-phase server time (ms) for clients and benchmarks; serialisation = total - these
        response.headers["Server-Timing"] = (
            ", ".join(f"{k};dur={1000 * v:.3f}" for k, v in timings.items() if k != "candidates")
            + f", candidates;desc={timings['candidates']}"
        )
        if excluded_unknown:
            excluded["unknown_worker"] = excluded_unknown
        if message and rows is not None and len(rows) == 0:
            message = "none of the given candidate_ids is a stored worker"
        candidates, policy = place(
            state, arms, [lst[0] for lst in lists], "worker_id", body.limit, unit, scorer
        )
        return {
            "model_version": policy,
            "policy": policy,
            "candidates": candidates,
            "excluded": excluded,
            "message": message,
            **(arms.labels if arms else {}),
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
        unit = body.worker_id if body.worker_id is not None else unit_of(body.worker)
        arms = experiment_arms(state, unit, "/v1/recommend")
        now = market_now()
        results = [
            recommend_jobs(snap, s, W, w, body.max_km, body.limit, now, state.settings.rerank_top)
            for s in (arms.scorers if arms else [scorer])
        ]
        result = results[0]
        result["jobs"], policy = place(
            state, arms, [r["jobs"] for r in results], "job_id", body.limit, unit, scorer
        )
        return {"model_version": policy, "policy": policy, **result, **(arms.labels if arms else {})}


class Arms:
    """The scorers a request is served by under an experiment, and the labels its answer carries."""

    def __init__(self, experiment, scorers: list, variant: str, teams: list[str] | None = None):
        self.experiment = experiment
        self.scorers = scorers
        self.variant = variant
        self.teams = teams  # variant names of the two teams under interleaving
        self.labels = {"experiment": experiment.name, "variant": variant}


def unit_of(body) -> str:
    """The unit id of an inline job or worker: a digest of its content (same body, same variant)."""
    text = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return "inline:" + hashlib.sha256(text.encode()).hexdigest()[:24]


def experiment_arms(state, unit: str, endpoint: str) -> Arms | None:
    """The arm(s) of a request under the running experiment (None without one), counted in /metrics."""
    exp = state.experiment
    if exp is None:
        return None
    if exp.mode == "interleave":
        names = [v.name for v in exp.variants]
        arms = Arms(exp, [exp.scorers[n] for n in names], "interleave", teams=names)
    else:
        variant = exp.assign(unit)
        arms = Arms(exp, [exp.scorers[variant.name]], variant.name)
    state.experiment_requests.labels(exp.name, arms.variant, endpoint).inc()
    return arms


def place(state, arms: Arms | None, ranked: list[list[dict]], key: str, limit: int, unit: str, scorer):
    """(items with their ``position`` and ``policy``, the list's policy): one ranking as it is, or two
    merged by team draft under interleaving (each item's policy is its team's model version)."""
    if arms is None or arms.teams is None:
        version = arms.scorers[0].version if arms else scorer.version
        items = ranked[0]
        for position, item in enumerate(items, 1):  # sent back with `shown`: logged feedback (#17)
            item["position"], item["policy"] = position, version
        if arms is not None:
            state.experiment_items.labels(arms.experiment.name, arms.variant, key).inc(len(items))
        return items, version
    by_id = [{item[key]: item for item in lst} for lst in ranked]
    merged = team_draft([i[key] for i in ranked[0]], [i[key] for i in ranked[1]], limit, unit)
    items = []
    for position, (item_id, team) in enumerate(merged, 1):
        item = dict(by_id[team][item_id])
        item["position"], item["policy"] = position, arms.scorers[team].version
        items.append(item)
        state.experiment_items.labels(arms.experiment.name, arms.teams[team], key).inc()
    return items, "interleave:" + "|".join(s.version for s in arms.scorers)
