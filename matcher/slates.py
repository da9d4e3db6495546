"""Capacity-aware slates: who to show each open job to, so the same few workers are not shown everything.

:func:`plan_slates` chooses up to ``slate_size`` workers per job so that no worker holds more than
``max_per_worker`` offers (counting those already held) and the total probability of a completed
match, ``sum(p_match)`` over the chosen (job, worker) places, is the highest possible, exactly.

How it is exact
    *Caps only*: this is a bipartite b-matching, solved by the assignment solver
    (:func:`matcher.solver.solve_assignment`, ``objective="weight"``): jobs have capacity
    ``slate_size`` and workers ``max_per_worker - held``; the solver carries worker capacities natively
    as capacity arcs of its min-cost flow (source -> job arc of capacity ``slate_size``, worker -> sink
    arc of capacity ``max_per_worker - held``; no node duplication), so the optimum is proven.
    Probabilities are rounded to 6 decimals and handed to the solver as whole micro-units, which it
    scales to integer costs exactly.

    *With the long-waiting minimum* (at least ``K`` places for long-waiting workers, see below) the
    problem is a b-matching with one side constraint, which is not totally unimodular. It is solved by
    Lagrangian relaxation: for a multiplier ``lam >= 0`` the exact solver maximises
    ``sum (p + lam * long_waiting) x``; every ``lam`` gives an upper bound
    ``L(lam) = max_x sum (p + lam lw) x - lam K`` on the constrained optimum, and the number of
    long-waiting places the solver picks never falls as ``lam`` grows. An integer search (in
    micro-units) finds the smallest ``lam`` whose plan meets the minimum; that plan is feasible, and
    ``bound = min(L(lam - 1), L(lam))`` is a proven upper bound. When the plan meets the minimum with
    equality (the usual case), complementary slackness makes ``bound`` equal its value: proven optimal.
    Otherwise (a duality gap) the problem is solved as a MIP by HiGHS (``scipy.optimize.milp``), whose
    own proven gap is reported; :attr:`SlatePlan.gap` is 0 for a proven optimum.

The long-waiting minimum
    ``K = ceil(long_waiting_share * P0)``, where ``P0`` is the number of places the plan without the
    constraint fills (the places on offer), capped at the most long-waiting places any plan within
    the caps can hold (itself found exactly by the solver). A share that cannot be met is thus met as
    far as possible and reported (``long_waiting_required`` against ``long_waiting_target``), rather
    than emptying other places. The constraint is over the whole plan, not per job.

Tiers
    Edges flagged ``tier1`` (an employer's own workers, who completed a well-rated job for it) are
    planned first, on their own, exactly; tier 2 (everyone else) then fills the capacity left, with the
    long-waiting minimum counting the long-waiting places tier 1 already holds. The caller releases
    tier 1 at once and tier 2 after its head start (see ``service/routes/slates.py``).

:func:`exposure_figures` summarises how evenly a plan (or a day of showings) spreads over workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from matcher.solver import solve_assignment

P_UNITS = 1_000_000  # p_match is solved in whole micro-units (6 decimals), which the solver scales exactly
MAX_LAMBDA_UNITS = 2**30 - P_UNITS  # keeps p + lam below 2**30 micro-units: the solver's exact range
MIP_TIME_LIMIT_S = 30.0  # HiGHS' limit for the fallback MIP; a timed-out MIP reports its gap


@dataclass
class SlatePlan:
    """What :func:`plan_slates` returns.

    Attributes
    ----------
    chosen : bool array of shape (E,)
        True for the (job, worker) places in the plan, in the caller's edge order.
    tier : int8 array of shape (E,)
        1 for tier-1 edges (``tier1``), 2 for the others.
    total_p : float
        Sum of ``p_match`` (rounded to 6 decimals) over the chosen places: the expected number of
        completed matches the plan aims at.
    bound : float
        A proven upper bound on ``total_p`` over all feasible plans (of the stage the constraint is in).
    gap : float
        ``bound - total_p``, >= 0; 0 for a proven optimum.
    method : str
        ``"flow"`` (caps only), ``"lagrangian"`` (side constraint proved by the multiplier),
        ``"mip"`` (HiGHS), or ``"none"`` (no edges).
    multiplier : float
        The Lagrange multiplier used, in units of p_match (0 without the constraint).
    long_waiting_target : int
        ``ceil(long_waiting_share * P0)`` places asked for.
    long_waiting_required : int
        The target capped at what any plan can hold: the side constraint's right-hand side.
    long_waiting_places : int
        Long-waiting places in the plan.
    solves : int
        Exact b-matching solves used.
    """

    chosen: np.ndarray
    tier: np.ndarray
    total_p: float = 0.0
    bound: float = 0.0
    gap: float = 0.0
    method: str = "none"
    multiplier: float = 0.0
    long_waiting_target: int = 0
    long_waiting_required: int = 0
    long_waiting_places: int = 0
    solves: int = 0
    info: dict = field(default_factory=dict)


def _bool_edges(name: str, value, n_edges: int) -> np.ndarray:
    if value is None:
        return np.zeros(n_edges, dtype=bool)
    arr = np.asarray(value)
    if arr.shape != (n_edges,):
        raise ValueError(f"{name} must have shape ({n_edges},), got {arr.shape}")
    return arr.astype(bool)


def plan_slates(
    job,
    worker,
    p_match,
    n_jobs: int,
    n_workers: int,
    *,
    slate_size: int | np.ndarray = 10,
    max_per_worker: int = 3,
    held=None,
    long_waiting=None,
    long_waiting_share: float = 0.0,
    tier1=None,
) -> SlatePlan:
    """Choose each job's slate: the most expected completed matches within every cap, exactly.

    Parameters
    ----------
    job, worker : int arrays of shape (E,)
        Candidate edges (eligible pairs); pairs not listed are never shown. No pair twice.
    p_match : float array of shape (E,)
        Calibrated probability that showing the pair ends in a completed job, in [0, 1].
    n_jobs, n_workers : int
        Number of jobs and workers the indices point into.
    slate_size : int or int array of shape (n_jobs,), default=10
        Places per job.
    max_per_worker : int, default=3
        Offers a worker may hold at once, counting ``held``.
    held : int array of shape (n_workers,), optional
        Offers each worker already holds (``shown`` events of the window); default none.
    long_waiting : bool array of shape (n_workers,), optional
        Workers whose last hire is long ago (the caller's definition); default none.
    long_waiting_share : float in [0, 1], default=0
        Minimum share of the plan's places for long-waiting workers (see the module docstring).
    tier1 : bool array of shape (E,), optional
        Edges of tier 1 (planned first); default none.

    Returns
    -------
    SlatePlan

    Raises
    ------
    ValueError
        Naming the argument: shapes, ranges, probabilities outside [0, 1], a share outside [0, 1],
        negative caps, or what :func:`matcher.solver.solve_assignment` refuses.
    """
    job = np.asarray(job, dtype=np.int64)
    worker = np.asarray(worker, dtype=np.int64)
    p = np.asarray(p_match, dtype=np.float64)
    E = len(job)
    if job.shape != (E,) or worker.shape != (E,) or p.shape != (E,):
        raise ValueError(
            f"job, worker and p_match must be 1-D of one length, got {job.shape}, {worker.shape}, {p.shape}"
        )
    if E and not (np.all(np.isfinite(p)) and p.min() >= 0 and p.max() <= 1):
        raise ValueError("p_match must be probabilities in [0, 1]")
    if not 0.0 <= float(long_waiting_share) <= 1.0:
        raise ValueError(f"long_waiting_share must be in [0, 1], got {long_waiting_share}")
    if int(max_per_worker) < 0:
        raise ValueError(f"max_per_worker must be >= 0, got {max_per_worker}")
    job_cap = np.broadcast_to(np.asarray(slate_size, dtype=np.int64), (n_jobs,)).copy()
    if np.any(job_cap < 0):
        raise ValueError("slate_size must be >= 0")
    held_w = np.zeros(n_workers, dtype=np.int64) if held is None else np.asarray(held, dtype=np.int64)
    if held_w.shape != (n_workers,):
        raise ValueError(f"held must have shape ({n_workers},), got {held_w.shape}")
    worker_cap = np.maximum(int(max_per_worker) - held_w, 0)
    lw_worker = np.zeros(n_workers, dtype=bool) if long_waiting is None else np.asarray(long_waiting, bool)
    if lw_worker.shape != (n_workers,):
        raise ValueError(f"long_waiting must have shape ({n_workers},), got {lw_worker.shape}")
    t1 = _bool_edges("tier1", tier1, E)
    for name, idx, n in (("job", job, n_jobs), ("worker", worker, n_workers)):
        if E and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"{name} indices must lie in [0, {n})")

    units = np.round(p * P_UNITS).astype(np.int64)
    lw = lw_worker[worker] if E else np.zeros(0, dtype=bool)
    chosen = np.zeros(E, dtype=bool)
    plan = SlatePlan(chosen=chosen, tier=np.where(t1, 1, 2).astype(np.int8))
    if E == 0:
        return plan
    usable = units > 0  # a place with no chance of a completed match is never worth showing

    # tier 1 first, on its own; then the rest fills what is left
    e1 = np.flatnonzero(usable & t1)
    if len(e1):
        c1 = solve_assignment(job[e1], worker[e1], units[e1].astype(float), job_cap, worker_cap, "weight")
        chosen[e1[c1]] = True
        plan.solves += 1
    job_left = job_cap - np.bincount(job[chosen], minlength=n_jobs)
    worker_left = worker_cap - np.bincount(worker[chosen], minlength=n_workers)
    lw_held = int((chosen & lw).sum())
    e2 = np.flatnonzero(usable & ~t1)
    stage = _Stage(job[e2], worker[e2], units[e2], lw[e2], job_left, worker_left)

    x0 = stage.solve(0)
    plan.solves += 1
    plan.method = "flow"
    places0 = int(chosen.sum()) + int(x0.sum())
    share = float(long_waiting_share)
    target = math.ceil(share * places0 - 1e-9) if share > 0 else 0
    plan.long_waiting_target = target
    need = target - lw_held  # still to be found in tier 2
    x, lam, bound_units = x0, 0, int(units[e2][x0].sum())
    if need > 0 and int(x0[stage.lw].sum()) < need:
        most = stage.max_long_waiting()
        plan.solves += 1
        need = min(need, most)
        if int(x0[stage.lw].sum()) < need:
            x, lam, bound_units, method, solves = stage.constrained(need, x0)
            plan.method, plan.solves = method, plan.solves + solves
    plan.long_waiting_required = lw_held + max(need, 0)
    chosen[e2[x]] = True
    plan.multiplier = lam / P_UNITS
    stage_value = int(units[e2][x].sum())
    plan.total_p = float(units[chosen].sum()) / P_UNITS
    plan.gap = max(bound_units - stage_value, 0) / P_UNITS
    plan.bound = plan.total_p + plan.gap
    plan.long_waiting_places = int((chosen & lw).sum())
    return plan


class _Stage:
    """One b-matching stage in micro-units, with the long-waiting side constraint when asked."""

    def __init__(self, job, worker, units, lw, job_cap, worker_cap):
        self.job, self.worker, self.units, self.lw = job, worker, units, lw
        self.job_cap, self.worker_cap = job_cap, worker_cap

    def solve(self, lam: int, weight: np.ndarray | None = None) -> np.ndarray:
        """The exact plan for weights ``units + lam * lw`` (or ``weight``), bool of shape (E_s,)."""
        if len(self.job) == 0:
            return np.zeros(0, dtype=bool)
        w = self.units + lam * self.lw if weight is None else weight
        return solve_assignment(
            self.job, self.worker, w.astype(np.float64), self.job_cap, self.worker_cap, "weight"
        )

    def max_long_waiting(self) -> int:
        """The most long-waiting places any plan within the caps holds (exact, unit weights)."""
        return int(self.solve(0, weight=self.lw.astype(np.int64)).sum())

    def lagrangian(self, lam: int, need: int) -> tuple[np.ndarray, int]:
        """The plan at ``lam`` and the upper bound ``L(lam)`` in micro-units."""
        x = self.solve(lam)
        return x, int(self.units[x].sum()) + lam * (int(self.lw[x].sum()) - need)

    def constrained(self, need: int, x0: np.ndarray) -> tuple[np.ndarray, int, int, str, int]:
        """Best plan with at least ``need`` long-waiting places: (x, lam, bound, method, solves).

        ``x0`` is the plan at ``lam = 0`` (which misses the minimum). A plan at any ``lam`` holding
        exactly ``need`` long-waiting places is optimal (complementary slackness: its value equals
        ``L(lam)``), so the search stops at the first one; otherwise it narrows to the smallest integer
        ``lam`` that meets the minimum and compares the plan with ``min L`` over every ``lam`` tried.
        """
        solves = 0
        bound_lo = int(self.units[x0].sum())  # L(0)
        lo, hi = 0, 1024  # micro-units: 0.001 of a probability
        bounds = [bound_lo]
        while True:  # grow hi until its plan meets the minimum
            x_hi, bound_hi = self.lagrangian(hi, need)
            solves += 1
            bounds.append(bound_hi)
            count = int(x_hi[self.lw].sum())
            if count == need:
                return x_hi, hi, int(self.units[x_hi].sum()), "lagrangian", solves
            if count > need or hi >= MAX_LAMBDA_UNITS:
                break
            lo = hi
            hi = min(hi * 4, MAX_LAMBDA_UNITS)
        while hi - lo > 1 and int(x_hi[self.lw].sum()) >= need:  # smallest integer lam that meets it
            mid = (lo + hi) // 2
            x_mid, bound_mid = self.lagrangian(mid, need)
            solves += 1
            bounds.append(bound_mid)
            count = int(x_mid[self.lw].sum())
            if count == need:
                return x_mid, mid, int(self.units[x_mid].sum()), "lagrangian", solves
            if count > need:
                hi, x_hi = mid, x_mid
            else:
                lo = mid
        bound = min(bounds)  # every lam >= 0 gives an upper bound
        if int(x_hi[self.lw].sum()) >= need:
            best = x_hi
        else:  # the multiplier ran out of range: the plan with the most long-waiting places is feasible
            best = self.solve(0, weight=self.lw.astype(np.int64) * (P_UNITS + 1) + self.units)
            solves += 1
        value = int(self.units[best].sum())
        if bound - value <= 0:
            return best, hi, value, "lagrangian", solves
        x, mip_bound = self.mip(need)  # a duality gap: HiGHS, within its time limit
        if mip_bound is not None:
            bound = min(bound, mip_bound)
        if x is not None and int(self.units[x].sum()) >= value:
            return x, hi, bound, "mip", solves
        return best, hi, bound, "lagrangian", solves  # the MIP timed out: feasible, gap reported

    def mip(self, need: int) -> tuple[np.ndarray | None, int | None]:
        """HiGHS MIP of the constrained stage: (x or None, proven bound in micro-units or None).

        Within :data:`MIP_TIME_LIMIT_S`; a run that stops there gives its best plan (None when it
        found none) and its dual bound.
        """
        from scipy.optimize import Bounds, LinearConstraint, milp

        E = len(self.job)
        cols = np.arange(E)
        n_j, n_w = len(self.job_cap), len(self.worker_cap)
        A = sp.vstack(
            [
                sp.csr_matrix((np.ones(E), (self.job, cols)), shape=(n_j, E)),
                sp.csr_matrix((np.ones(E), (self.worker, cols)), shape=(n_w, E)),
                sp.csr_matrix(self.lw.astype(float)[None, :]),
            ]
        ).tocsr()
        lb = np.r_[np.full(n_j + n_w, -np.inf), need]
        ub = np.r_[self.job_cap, self.worker_cap, np.inf].astype(float)
        res = milp(
            -self.units.astype(float),
            constraints=LinearConstraint(A, lb, ub),
            integrality=np.ones(E),
            bounds=Bounds(0, 1),
            options={"time_limit": MIP_TIME_LIMIT_S, "mip_rel_gap": 0.0},
        )
        dual = getattr(res, "mip_dual_bound", None)
        bound = None if dual is None or not np.isfinite(dual) else int(math.floor(-float(dual) + 1e-6))
        if res.x is None:
            return None, bound
        x = res.x > 0.5
        if res.status == 0 and bound is None:  # proven optimal without a reported bound
            bound = int(self.units[x].sum())
        return x, bound


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = all equal, -> 1 = one holds everything).

    Parameters
    ----------
    values : array of shape (n,)
        E.g. shows per worker; n >= 1.

    Returns
    -------
    float in [0, 1); 0 for an empty or all-zero array.
    """
    v = np.sort(np.asarray(values, dtype=np.float64))
    n, total = len(v), float(v.sum()) if len(v) else 0.0
    if n == 0 or total <= 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ v / (n * total))


def exposure_figures(
    shows_per_worker: np.ndarray, candidate: np.ndarray, long_waiting: np.ndarray | None = None
) -> dict:
    """How evenly showings spread over the workers who could have been shown.

    Parameters
    ----------
    shows_per_worker : int array of shape (n_workers,)
        Showings (places) per worker.
    candidate : bool array of shape (n_workers,)
        Workers eligible for at least one of the jobs: the population exposure is measured over.
    long_waiting : bool array of shape (n_workers,), optional
        Long-waiting workers.

    Returns
    -------
    dict
        ``places``, ``workers_shown``, ``candidates``, ``share_candidates_shown``,
        ``max_per_worker``, ``exposure_gini`` (over candidates), and with ``long_waiting``
        ``long_waiting_share_of_shows`` and ``long_waiting_candidates``.
    """
    shows = np.asarray(shows_per_worker)
    cand = np.asarray(candidate, dtype=bool) | (shows > 0)
    n_cand = int(cand.sum())
    out = {
        "places": int(shows.sum()),
        "workers_shown": int((shows > 0).sum()),
        "candidates": n_cand,
        "share_candidates_shown": round(float((shows > 0).sum()) / n_cand, 4) if n_cand else 0.0,
        "max_per_worker": int(shows.max()) if len(shows) else 0,
        "exposure_gini": round(gini(shows[cand]), 4),
    }
    if long_waiting is not None:
        lw = np.asarray(long_waiting, dtype=bool)
        total = int(shows.sum())
        out["long_waiting_share_of_shows"] = round(float(shows[lw].sum()) / total, 4) if total else 0.0
        out["long_waiting_candidates"] = int((lw & cand).sum())
    return out


def held_offers(history, workers: np.ndarray, now_s: float, window_hours: float) -> np.ndarray:
    """Offers each worker holds: their ``shown`` events in the ``window_hours`` up to ``now_s``.

    Parameters
    ----------
    history : features.history.WorkerHistory
        The event history (point-in-time).
    workers : int array of shape (n,)
        Worker rows to count for.
    now_s : float
        Market time, seconds since the epoch.
    window_hours : float
        Length of the window, hours; a show at exactly ``now_s - window`` counts.

    Returns
    -------
    int64 array of shape (n,)
    """
    w = np.asarray(workers, dtype=np.int64)
    if len(w) == 0:
        return np.zeros(0, dtype=np.int64)
    now_count = history.asof(w, now_s)["shown"]
    then_count = history.asof(w, now_s - window_hours * 3600.0)["shown"]
    return np.rint(now_count - then_count).astype(np.int64)


def long_waiting_workers(
    history, registered_s: np.ndarray, workers: np.ndarray, now_s: float, days: float
) -> np.ndarray:
    """Whether each worker has waited at least ``days`` since their last hire.

    A worker with no hire in the last ``days`` is long-waiting unless they registered within them
    (a newcomer has not waited long yet); an unknown registration time counts as long ago.

    Parameters
    ----------
    history : features.history.WorkerHistory
    registered_s : float array of shape (n_workers,)
        Registration times, seconds since the epoch (NaN: unknown).
    workers : int array of shape (n,)
        Worker rows.
    now_s : float
        Market time, seconds since the epoch.
    days : float
        The waiting threshold, days.

    Returns
    -------
    bool array of shape (n,)
    """
    w = np.asarray(workers, dtype=np.int64)
    if len(w) == 0:
        return np.zeros(0, dtype=bool)
    since = now_s - days * 86_400.0
    hired_recently = history.asof(w, now_s)["hired"] - history.asof(w, since)["hired"] > 0
    newcomer = np.asarray(registered_s, dtype=np.float64)[w] > since  # NaN compares False
    return ~hired_recently & ~newcomer


def exposure_discount(p: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Share of a showing's P(completed) left when the worker already holds ``held`` other offers.

    A worker works one job at a time: if each of the ``k`` offers they hold ends in a hire with about
    the same probability ``p`` as this one (``N ~ Binomial(k, p)`` of them do), this one is the job
    they take with probability ``E[1 / (1 + N)] = (1 - (1 - p)^(k + 1)) / ((k + 1) p)`` (1 when
    ``k = 0``; tends to 1 as ``p`` -> 0, and to ``1 / (k + 1)`` as ``p`` -> 1).

    Parameters
    ----------
    p : float array of shape (n,)
        P(completed) of each showing, in [0, 1].
    held : int array of shape (n,)
        Offers the pair's worker already holds (:func:`held_offers`).

    Returns
    -------
    float64 array of shape (n,) in (0, 1].
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    k1 = np.asarray(held, dtype=np.float64) + 1.0
    safe = np.maximum(p, 1e-12)
    out = -np.expm1(k1 * np.log1p(-np.minimum(safe, 1 - 1e-15))) / (k1 * safe)
    return np.where(p < 1e-12, 1.0, np.clip(out, 0.0, 1.0))
