"""Ranking for the API: candidates for a job, open jobs for a worker, with short reasons.

Both go through :func:`features.pairs.build_pairs` (the same code path as training and the batch
run); the Python loop below runs only over the ``limit`` results to phrase their reasons.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from features.eligibility import count_reasons
from features.encode import JobTable, WorkerTable, encode_jobs, encode_workers
from features.pairs import PairBatch, build_pairs
from features.registry import FEATURE_INDEX
from gigmatch.core.contract import validate_table
from matcher.explain import explain_exclusions, plural, what_would_change
from matcher.slates import exposure_discount, held_offers
from models.calibration import p_match
from models.heuristic import HeuristicScorer
from service.store import Snapshot


def reasons(x: np.ndarray) -> list[str]:
    """A few human-readable factors behind a pair's rank, from its feature row."""
    out = []
    if x[FEATURE_INDEX["trade_exact"]] > 0:
        years = x[FEATURE_INDEX["trade_years"]]
        out.append(f"does this trade ({plural(years, 'year')})" if years > 0 else "does this trade")
    elif x[FEATURE_INDEX["trade_related_credit"]] > 0:
        out.append("does a related trade")
    elif x[FEATURE_INDEX["open_to_all"]] > 0:
        out.append("entry-level work, no skill needed")
    if x[FEATURE_INDEX["preferred_trade"]] == 1:
        out.append("wants this kind of work")
    out.append(f"{x[FEATURE_INDEX['distance_km']]:.1f} km away")
    n = np.expm1(x[FEATURE_INDEX["rating_count"]])
    if n >= 1:
        # the Bayesian mean (README "shrunk rating"): "about", since few ratings are pulled toward 4.0
        out.append(f"rated about {x[FEATURE_INDEX['rating_shrunk']]:.1f} from {plural(round(n), 'rating')}")
    if x[FEATURE_INDEX["no_show_rate_shrunk"]] > 0.2:
        out.append("often does not show up")
    wage = x[FEATURE_INDEX["wage_vs_min"]]
    if np.isfinite(wage) and wage >= 1.1:
        out.append(f"pays {100 * (wage - 1):.0f}% above the worker's minimum")
    elif np.isfinite(wage) and wage < 1:
        out.append("pays below the worker's minimum")
    if x[FEATURE_INDEX["certs_required"]] > 0:
        out.append("holds the required certificates")
    return out


_PRESCORER = HeuristicScorer()
EXPOSURE_WINDOW_HOURS = 24.0  # exposure_aware: a worker's shows of the last 24 h are offers they hold


def score_two_stage(
    scorer, X: np.ndarray, eligible: np.ndarray, rerank_top: int
) -> tuple[np.ndarray, np.ndarray]:
    """Scores for eligible rows, and the mask of rows that were ranked by ``scorer``.

    With ``rerank_top`` > 0 and a learned model, every eligible row gets the vectorised heuristic
    score and only the ``rerank_top`` best go through the model (candidate generation, then
    re-ranking); the others are not returned. 0 scores every eligible row with the model.
    """
    score = np.zeros(len(X))
    idx = np.flatnonzero(eligible)
    if len(idx) == 0:
        return score, eligible
    if rerank_top and scorer.is_model and len(idx) > rerank_top:
        pre = _PRESCORER.score(X[idx])
        idx = idx[np.argpartition(-pre, rerank_top - 1)[:rerank_top]]
    score[idx] = scorer.score(X[idx])
    ranked = np.zeros(len(X), dtype=bool)
    ranked[idx] = True
    return score, ranked


def _top(score: np.ndarray, eligible: np.ndarray, limit: int) -> np.ndarray:
    idx = np.flatnonzero(eligible)
    if len(idx) == 0:
        return idx
    order = np.lexsort((idx, -score[idx]))  # ties: lower row first, so results are stable
    return idx[order[:limit]]


def encode_request_job(snap: Snapshot, row: dict) -> JobTable:
    """A job sent inline, read with the market's vocabulary and compared with its market statistics."""
    job = validate_table(pd.DataFrame([row]), "jobs", source="job", taxonomy=snap.taxonomy)
    return encode_jobs(job, snap.workers, snap.employers, stats=snap.stats, taxonomy=snap.taxonomy)


def encode_request_worker(row: dict, snap: Snapshot) -> WorkerTable:
    """A worker sent inline, read with the market's vocabulary."""
    worker = validate_table(pd.DataFrame([row]), "workers", source="worker", taxonomy=snap.taxonomy)
    # start from the store's vocabularies so trade and certificate indices line up with the jobs'
    return encode_workers(worker, snap.taxonomy, vocab_from=snap.workers)


def rank_job(
    snap: Snapshot,
    scorer,
    jobs: JobTable,
    j: int,
    candidate_rows: np.ndarray | None,
    max_km: float,
    limit: int,
    asof_s: float,
    timings: dict | None = None,
    rerank_top: int = 0,
    exposure_aware: bool = False,
    blocked: np.ndarray | None = None,
) -> tuple[list[dict], dict[str, int], str | None]:
    """(top candidates, excluded counts, why there is none or None) for job row ``j`` of ``jobs``.

    ``timings``, when given, receives the seconds spent in retrieval, features and model. With
    ``exposure_aware`` the ranked rows are ordered by their calibrated P(completed) discounted for the
    offers each worker holds (shows of the last :data:`EXPOSURE_WINDOW_HOURS`;
    :func:`matcher.slates.exposure_discount`), and each candidate carries ``p_match`` and
    ``offers_held``; without it nothing of this runs. ``blocked`` (bool, shape (n_workers,)) marks
    workers never ranked: their case is closed without a hire (counted as ``case_closed`` in the
    excluded counts).
    """
    W = snap.workers
    t0 = time.perf_counter()
    if candidate_rows is None:
        _, w = snap.worker_index.within(jobs.lat[j : j + 1], jobs.lon[j : j + 1], max_km)
    else:
        w = candidate_rows
    n_blocked = 0
    if blocked is not None and len(w):
        keep = ~blocked[w]
        n_blocked = int(len(w) - keep.sum())
        w = w[keep]
    t1 = time.perf_counter()
    batch: PairBatch = build_pairs(
        jobs, W, np.full(len(w), j), w, history=snap.history, asof_s=asof_s, max_km=max_km
    )
    t2 = time.perf_counter()
    score, ranked = score_two_stage(scorer, batch.X, batch.eligible, rerank_top)
    if exposure_aware:
        idx = np.flatnonzero(ranked)
        p_eff, held = np.zeros(len(w)), np.zeros(len(w), dtype=np.int64)
        if len(idx):
            p = p_match(scorer, batch.X[idx], score[idx])
            held[idx] = held_offers(snap.history, w[idx], asof_s, EXPOSURE_WINDOW_HOURS)
            p_eff[idx] = p * exposure_discount(p, held[idx])
        top = _top(p_eff, ranked, limit)
    else:
        top = _top(score, ranked, limit)
    if timings is not None:
        timings.update(retrieve=t1 - t0, features=t2 - t1, model=time.perf_counter() - t2, candidates=len(w))
    out = [
        {
            "worker_id": str(W.ids[w[i]]),
            "score": round(float(score[i]), 6),
            "distance_km": round(float(batch.distance_km[i]), 3),
            "reasons": reasons(batch.X[i]),
        }
        for i in top
    ]
    if exposure_aware:
        for row, i in zip(out, top, strict=True):
            row["p_match"] = round(float(p_eff[i]), 6)
            row["offers_held"] = int(held[i])
    message = None
    if not out:  # every request gets an answer: say why nobody is listed
        if len(w) == 0:
            message = f"no worker lives within {max_km:g} km of the job"
        else:
            message = explain_exclusions(jobs, j, batch, np.arange(len(w)), snap.taxonomy, max_km)
    excluded = count_reasons(batch.reason)
    if n_blocked:
        excluded["case_closed"] = n_blocked
    return out, excluded, message


def recommend_jobs(
    snap: Snapshot,
    scorer,
    W: WorkerTable,
    w: int,
    max_km: float | None,
    limit: int,
    asof_s: float,
    rerank_top: int = 0,
) -> dict:
    """Open jobs for worker row ``w`` of ``W``: ranked, with exclusions and what would change them."""
    J = snap.jobs
    radius = float(max_km if max_km is not None else W.max_travel_km[w])
    pj_all = snap.job_index.within(W.lat[w : w + 1], W.lon[w : w + 1], max(radius, 50.0))[1]
    pj_all = pj_all[snap.job_open[pj_all]]  # filled, started, deleted or blacklisted: never recommended
    batch = build_pairs(
        J, W, pj_all, np.full(len(pj_all), w), history=snap.history, asof_s=asof_s, max_km=radius
    )
    near = batch.distance_km <= radius
    score, ok = score_two_stage(scorer, batch.X, batch.eligible, rerank_top)
    top = _top(score, ok, limit)
    jobs = [
        {
            "job_id": str(J.ids[pj_all[i]]),
            "trade": str(J.trade_code[pj_all[i]]),
            "score": round(float(score[i]), 6),
            "distance_km": round(float(batch.distance_km[i]), 3),
            "reasons": reasons(batch.X[i]),
        }
        for i in top
    ]
    result = {"jobs": jobs, "excluded": count_reasons(batch.reason[near])}
    if not jobs:
        result["message"] = f"no open job you qualify for within {radius:g} km"
        change = what_would_change(J, np.zeros(len(pj_all), dtype=np.int64), pj_all, batch, 1)
        result["what_would_change"] = [c for c in change if c]
    return result
