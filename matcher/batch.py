"""The operators' batch run: retrieve, check, score and solve a whole market's jobs at once.

:func:`run_batch` returns an :class:`AssignmentResult`. Every unfilled slot and every unmatched worker
gets a reason (事事有回音); the reasons, and "what would change" for a worker, are worked out in
:mod:`matcher.explain`, which lists them. :mod:`matcher.report` writes a result's files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.encode import JobTable, WorkerTable, encode_market
from features.history import WorkerHistory
from features.pairs import build_pairs
from gigmatch.core.contract import Market
from gigmatch.core.defaults import CANDIDATES_PER_SLOT, DEFAULT_MAX_KM
from gigmatch.core.taxonomy import Taxonomy
from gigmatch.core.times import market_now
from matcher.explain import explain_exclusions, unfilled_jobs, unmatched_workers, what_would_change
from matcher.objectives import DEFAULT_OBJECTIVE, get_objective
from matcher.retrieval import CandidateRetriever
from matcher.solver import solve_assignment

# explain_exclusions and what_would_change are re-exported for service.ranking, which imports them from
# here; they live in matcher.explain
__all__ = ["AssignmentResult", "run_batch", "explain_exclusions", "what_would_change"]

EXPAND = 4  # candidate growth per extra round for jobs left open
MAX_ROUNDS = 3  # rounds of candidate expansion and re-solving at most


@dataclass
class AssignmentResult:
    """What :func:`run_batch` returns.

    Attributes
    ----------
    assignments : pandas.DataFrame
        One row per filled slot: ``job_id``, ``worker_id``, ``score`` (the scorer's match weight,
        6 decimals), ``distance_km`` (great-circle, 3 decimals).
    unfilled_jobs : pandas.DataFrame
        One row per job with open slots and its reason (:func:`matcher.explain.unfilled_jobs`).
    unmatched_workers : pandas.DataFrame
        One row per worker without a job, with a reason and what would change it
        (:func:`matcher.explain.unmatched_workers`).
    summary : dict
        Figures of the run (slots, filled, fill rate, total score, distances in km, timings in
        seconds, reason counts, the parameters used); :mod:`matcher.report` writes it as JSON.
    pairs : dict of str to ndarray
        Coordinates for the report's map: ``job_lat``, ``job_lon`` (n_jobs,), ``worker_lat``,
        ``worker_lon`` (n_workers,), WGS84 degrees; ``a_job``, ``a_worker`` (indices) and
        ``distance_km`` (n_assignments,).
    """

    assignments: pd.DataFrame
    unfilled_jobs: pd.DataFrame
    unmatched_workers: pd.DataFrame
    summary: dict
    pairs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EncodedMarket:
    """A market already encoded, as the service's snapshot holds it: run_batch skips encoding it.

    Attributes
    ----------
    workers : WorkerTable
    jobs : JobTable
        The batch's jobs (e.g. ``snapshot.jobs.take(rows)``).
    history : WorkerHistory
        Event history of ``workers``.
    taxonomy : Taxonomy
        The market's vocabulary.
    """

    workers: WorkerTable
    jobs: JobTable
    history: WorkerHistory
    taxonomy: Taxonomy


def run_batch(
    market: Market | EncodedMarket,
    scorer,
    *,
    max_km: float = DEFAULT_MAX_KM,
    objective: str = DEFAULT_OBJECTIVE,
    worker_capacity: int = 1,
    min_score: float | None = None,
    candidates_per_slot: int = CANDIDATES_PER_SLOT,
    asof_s: float | None = None,
    client=None,
    progress=None,
) -> AssignmentResult:
    """Match every job of ``market`` (with its headcount) to nearby eligible workers.

    Parameters
    ----------
    market : Market or EncodedMarket
        A validated market (all its jobs form the batch), or one already encoded.
    scorer : object
        ``match_weight(X) -> float array of shape (n_pairs,)`` in (0, 1] and a ``version`` string.
    max_km : float, default=``DEFAULT_MAX_KM`` (15)
        Retrieval radius around each job, km.
    objective : str, default=``DEFAULT_OBJECTIVE`` (``"fill"``)
        A name from :data:`matcher.objectives.OBJECTIVES`: ``"fill"`` (most slots filled, then best
        total score) or ``"weight"`` (best total score).
    worker_capacity : int, default=1
        Jobs one worker may take in this batch.
    min_score : float, optional
        Pairs scoring below it are never assigned.
    candidates_per_slot : int, default=``CANDIDATES_PER_SLOT`` (30)
        Each job's candidates are its ``candidates_per_slot * headcount`` nearest workers who could do
        the trade (see :class:`matcher.retrieval.CandidateRetriever`). Jobs left with open slots after
        solving, whose list that cut short, get ``EXPAND`` times more and the batch is solved again (at
        most ``MAX_ROUNDS`` rounds); the result is exact over the final set.
    asof_s : float, optional
        Time the worker history is taken at, market time in seconds since the epoch; default: now.
    client : dask.distributed.Client, optional
        The solver's subproblems run on it, with an identical result.
    progress : callable, optional
        ``(stage_name: str) -> None``, called as each stage starts, for a progress display.

    Returns
    -------
    AssignmentResult

    Raises
    ------
    ValueError
        If ``objective`` is not a registered name (before any work is done).
    """
    get_objective(objective)  # refuse an unknown name before encoding and retrieval
    step = progress or (lambda stage: None)
    t_start = time.perf_counter()
    step("encode")
    if isinstance(market, EncodedMarket):  # the service's snapshot: nothing to encode again
        W, J, H, taxonomy = market.workers, market.jobs, market.history, market.taxonomy
    else:
        W, J = encode_market(market)
        H, taxonomy = WorkerHistory(market.events, W.ids), market.taxonomy
    asof = float(asof_s) if asof_s is not None else market_now()

    step("retrieve")
    retriever = CandidateRetriever(W)
    pj, pw = retriever.candidates(J, max_km, per_slot=candidates_per_slot)
    anyone_near = retriever.count_within(J.lat, J.lon, max_km)
    solve_s = 0.0
    rounds = 0
    while True:
        rounds += 1
        step("features")
        batch = build_pairs(J, W, pj, pw, history=H, asof_s=asof, max_km=max_km)
        step("score")
        eligible = batch.eligible
        weight = np.zeros(len(pj))
        if eligible.any():
            weight[eligible] = scorer.match_weight(batch.X[eligible])
        usable = eligible & (weight >= (min_score if min_score is not None else -np.inf))
        step("solve")
        t_solve = time.perf_counter()
        e = np.flatnonzero(usable)
        chosen_e = solve_assignment(
            pj[e],
            pw[e],
            weight[e],
            J.headcount,
            np.full(len(W), worker_capacity),
            objective=objective,
            client=client,
        )
        solve_s += time.perf_counter() - t_solve
        chosen = np.zeros(len(pj), dtype=bool)
        chosen[e[chosen_e]] = True
        # Jobs left with open slots whose candidate list preselection cut short get EXPAND times more
        # candidates, and the whole batch is solved again over the enlarged set (still exact over it).
        open_slots = J.headcount - np.bincount(pj[chosen], minlength=len(J))
        cut = np.bincount(pj, minlength=len(J)) >= candidates_per_slot * J.headcount
        grow = (open_slots > 0) & cut
        if rounds >= MAX_ROUNDS or not grow.any():
            break
        candidates_per_slot *= EXPAND
        more_j, more_w = retriever.candidates(J, max_km, per_slot=candidates_per_slot, only=grow)
        key = np.unique(np.r_[pj * len(W) + pw, more_j * len(W) + more_w])
        if len(key) == len(pj):
            break  # nothing new within the radius
        pj, pw = key // len(W), key % len(W)

    step("explain")
    assignments = pd.DataFrame(
        {
            "job_id": J.ids[pj[chosen]],
            "worker_id": W.ids[pw[chosen]],
            "score": np.round(weight[chosen], 6),
            "distance_km": np.round(batch.distance_km[chosen], 3),
        }
    )
    unfilled = unfilled_jobs(J, pj, batch, eligible, usable, chosen, anyone_near, taxonomy, max_km)
    unmatched = unmatched_workers(W, J, H, asof, pw[chosen], scorer, worker_capacity, max_km, min_score)
    dist = batch.distance_km[chosen]
    summary = batch_summary(
        J,
        W,
        weight,
        chosen,
        dist,
        pj,
        eligible,
        pw[chosen],
        unfilled,
        unmatched,
        objective,
        scorer,
        solve_s=solve_s,
        rounds=rounds,
        t_start=t_start,
        max_km=max_km,
        worker_capacity=worker_capacity,
        min_score=min_score,
    )
    pairs = {
        "job_lat": J.lat,
        "job_lon": J.lon,
        "worker_lat": W.lat,
        "worker_lon": W.lon,
        "a_job": pj[chosen],
        "a_worker": pw[chosen],
        "distance_km": dist,
    }
    return AssignmentResult(assignments, unfilled, unmatched, summary, pairs)


def batch_summary(
    J,
    W,
    weight,
    chosen,
    dist,
    pj,
    eligible,
    matched_workers,
    unfilled,
    unmatched,
    objective,
    scorer,
    *,
    solve_s: float,
    rounds: int,
    t_start: float,
    max_km: float,
    worker_capacity,
    min_score,
) -> dict:
    """The ``summary.json`` fields every batch run reports (one day or several: :mod:`matcher.shifts`
    adds its own after these).

    ``weight``, ``chosen``, ``pj`` and ``eligible`` are aligned with the candidate pairs (shape
    ``(n_pairs,)``); ``dist`` holds the chosen pairs' distances, km; ``matched_workers`` the chosen
    pairs' worker rows (a worker may appear more than once).
    """
    slots = int(J.headcount.sum())
    filled = int(chosen.sum())
    return {
        "jobs": len(J),
        "workers": len(W),
        "slots": slots,
        "filled": filled,
        "fill_rate": round(filled / slots, 4) if slots else 0.0,
        "objective": objective,
        "total_score": round(float(weight[chosen].sum()), 4),
        "mean_distance_km": round(float(dist.mean()), 3) if filled else None,
        "p90_distance_km": round(float(np.quantile(dist, 0.9)), 3) if filled else None,
        "candidate_pairs": len(pj),
        "eligible_pairs": int(eligible.sum()),
        "solver_seconds": round(solve_s, 3),
        "candidate_rounds": rounds,
        "total_seconds": round(time.perf_counter() - t_start, 3),
        "model_version": scorer.version,
        "max_km": max_km,
        "worker_capacity": worker_capacity,
        "min_score": min_score,
        "workers_matched": int(len(np.unique(matched_workers))),
        "workers_unmatched": int(len(unmatched)),
        "unfilled_reasons": unfilled["reason"].value_counts().to_dict(),
        "unmatched_reasons": unmatched["reason"].value_counts().to_dict(),
    }
