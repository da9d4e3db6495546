"""Slates for the API: plan who each open job is shown to (``POST /v1/slates``), and the exposure-aware
re-ranking of ``POST /v1/rank``.

The plan itself is :func:`matcher.slates.plan_slates` (exact; see there). Here: the candidates (stored
workers within ``max_km`` of each open job, eligible under every hard constraint), their calibrated
P(completed) (:func:`models.calibration.p_match`, discounted for the offers each worker holds by
:func:`matcher.slates.exposure_discount`), the held offers and long-waiting workers from the
point-in-time history, tier 1 from the event log, and the answer with its exposure figures.
(``/v1/rank``'s ``exposure_aware`` uses the same probability and discount: :mod:`service.ranking`.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi import HTTPException

from features.pairs import build_pairs
from matcher.slates import (
    exposure_discount,
    exposure_figures,
    held_offers,
    long_waiting_workers,
    plan_slates,
)
from models.calibration import p_match, scorer_calibration
from service.ranking import _PRESCORER, reasons
from service.store import Snapshot

CANDIDATES_PER_JOB = 300  # with a learned model, each job's best 300 by the heuristic are scored by it
GOOD_RATING = 4.0  # a completed job rated at least this makes a worker one of the employer's own


def _iso(seconds: float) -> str:
    """Market seconds (wall-clock time counted as if UTC, :func:`gigmatch.core.times.market_now`) as ISO."""
    return pd.Timestamp(seconds, unit="s").isoformat(timespec="seconds")


def require_calibration(scorer) -> None:
    """409 unless ``scorer`` carries a calibrated P(completed) (a model trained before it did not)."""
    if scorer_calibration(scorer) is None:
        raise HTTPException(
            409, f"model {scorer.version} has no calibrated match probability; retrain it to use slates"
        )


def employer_favourites(events: pd.DataFrame, job_employer: dict[str, str], now_s: float) -> set[tuple]:
    """(employer_id, worker_id) pairs where the worker completed a job of that employer rated >= 4.

    Parameters
    ----------
    events : DataFrame
        The validated event log.
    job_employer : dict
        job_id -> employer_id of the stored jobs.
    now_s : float
        Only events before it count (market time, seconds since the epoch).
    """
    if events is None or len(events) == 0:
        return set()
    ts = events["ts"].to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
    ev = events.loc[ts < now_s, ["job_id", "worker_id", "event", "rating"]]
    done = ev.loc[ev["event"] == "completed", ["job_id", "worker_id"]].drop_duplicates()
    rated = ev.loc[(ev["event"] == "rated") & (ev["rating"] >= GOOD_RATING), ["job_id", "worker_id"]]
    good = done.merge(rated.drop_duplicates(), on=["job_id", "worker_id"])
    good["employer_id"] = good["job_id"].map(job_employer)
    good = good.dropna(subset=["employer_id"])
    return set(zip(good["employer_id"], good["worker_id"], strict=True))


def plan_job_slates(
    snap: Snapshot,
    scorer,
    rows: np.ndarray,
    *,
    slate_size: int,
    max_per_worker: int,
    window_hours: float,
    max_km: float,
    long_waiting_days: float,
    long_waiting_share: float,
    head_start_hours: float,
    now_s: float,
    events: pd.DataFrame | None = None,
    blocked: np.ndarray | None = None,
) -> dict:
    """The ``POST /v1/slates`` answer for job rows ``rows`` of the snapshot (open or not).

    ``blocked`` (bool, shape (n_workers,)) marks workers never offered: their case is closed without a
    hire (issue #13).

    Returns
    -------
    dict
        ``slates``, ``exposure`` and ``plan`` as :class:`service.schemas.SlatesResponse` documents them.
    """
    J, W = snap.jobs, snap.workers
    n_w = len(W)
    open_rows = rows[snap.job_open[rows]]
    Jo = J.take(open_rows)
    q, w = snap.worker_index.within(Jo.lat, Jo.lon, max_km)
    if blocked is not None and len(w):
        keep = ~blocked[w]
        q, w = q[keep], w[keep]
    batch = build_pairs(Jo, W, q, w, history=snap.history, asof_s=now_s, max_km=max_km)
    el = np.flatnonzero(batch.eligible)
    if scorer.is_model and len(el):  # two stages, as /v1/rank: the heuristic's best per job go to the model
        pre = _PRESCORER.score(batch.X[el])
        order = np.lexsort((-pre, q[el]))
        qs = q[el][order]
        first = np.r_[0, np.flatnonzero(qs[1:] != qs[:-1]) + 1]
        rank = np.arange(len(qs)) - np.repeat(first, np.diff(np.r_[first, len(qs)]))
        el = np.sort(el[order[rank < CANDIDATES_PER_JOB]])
    eq, ew, X = q[el], w[el], batch.X[el]
    p_raw = p_match(scorer, X) if len(el) else np.zeros(0)
    all_w = np.arange(n_w)
    held = held_offers(snap.history, all_w, now_s, window_hours)
    lw = long_waiting_workers(snap.history, W.registered_s, all_w, now_s, long_waiting_days)
    p = np.round(p_raw * exposure_discount(p_raw, held[ew]), 6)
    tier1 = np.zeros(len(el), dtype=bool)
    if head_start_hours > 0 and len(el):
        favourites = employer_favourites(events, dict(zip(J.ids, J.employer_ids, strict=True)), now_s)
        if favourites:
            emp = Jo.employer_ids[eq]
            tier1 = np.fromiter(
                ((e, wid) in favourites for e, wid in zip(emp, W.ids[ew], strict=True)), bool, len(el)
            )
    plan = plan_slates(
        eq,
        ew,
        p,
        len(open_rows),
        n_w,
        slate_size=slate_size,
        max_per_worker=max_per_worker,
        held=held,
        long_waiting=lw,
        long_waiting_share=long_waiting_share,
        tier1=tier1,
    )
    tier = np.where(plan.tier == 1, 1, 2) if head_start_hours > 0 else np.ones(len(el), dtype=np.int8)
    release = {1: _iso(now_s), 2: _iso(now_s + head_start_hours * 3600.0)}
    chosen = np.flatnonzero(plan.chosen)
    by_job: dict[int, list[int]] = {}
    for i in chosen[np.lexsort((-p[chosen], tier[chosen], eq[chosen]))]:
        by_job.setdefault(int(eq[i]), []).append(int(i))
    dist = batch.distance_km[el]
    slates = []
    local = {int(r): k for k, r in enumerate(open_rows)}
    n_eligible = np.bincount(eq, minlength=len(open_rows))
    for r in rows:
        k = local.get(int(r))
        if k is None:
            slates.append(
                {
                    "job_id": str(J.ids[r]),
                    "workers": [],
                    "message": "the job is not open (filled, started, or its employer is blacklisted)",
                }
            )
            continue
        places = by_job.get(k, [])
        workers = [
            {
                "worker_id": str(W.ids[ew[i]]),
                "p_match": float(p[i]),
                "reasons": reasons(X[i]),
                "tier": int(tier[i]),
                "release_at": release[int(tier[i])],
                "distance_km": round(float(dist[i]), 3),
                "long_waiting": bool(lw[ew[i]]),
            }
            for i in places
        ]
        message = None
        if not workers:
            message = (
                f"no eligible worker within {max_km:g} km"
                if n_eligible[k] == 0
                else "every eligible worker nearby already holds the most offers allowed"
            )
        slates.append({"job_id": str(J.ids[r]), "workers": workers, "message": message})

    candidate = np.zeros(n_w, dtype=bool)
    candidate[ew] = True
    exposure = exposure_figures(np.bincount(ew[plan.chosen], minlength=n_w), candidate, lw)
    if len(el):  # relevance only: each job's top slate_size by P(completed), no caps, same candidates
        order = np.lexsort((-p_raw, eq))
        qs = eq[order]
        first = np.r_[0, np.flatnonzero(qs[1:] != qs[:-1]) + 1]
        rank = np.arange(len(qs)) - np.repeat(first, np.diff(np.r_[first, len(qs)]))
        top = order[rank < slate_size]
        exposure["relevance_only"] = exposure_figures(np.bincount(ew[top], minlength=n_w), candidate, lw)
    summary = {
        "jobs": len(rows),
        "open_jobs": len(open_rows),
        "candidate_pairs": int(len(el)),
        "total_p": round(plan.total_p, 6),
        "bound": round(plan.bound, 6),
        "gap": round(plan.gap, 6),
        "method": plan.method,
        "multiplier": round(plan.multiplier, 6),
        "long_waiting_target": plan.long_waiting_target,
        "long_waiting_required": plan.long_waiting_required,
        "long_waiting_places": plan.long_waiting_places,
        "tier1_places": int((plan.chosen & (plan.tier == 1)).sum()) if head_start_hours > 0 else 0,
        "solves": plan.solves,
        "workers_holding_offers": int((held > 0).sum()),
    }
    return {"slates": slates, "exposure": exposure, "plan": summary}
