"""Multi-day batch assignment with time: shifts, workers' hours, gaps and daily caps.

:func:`run_shifts` assigns every job starting in the next ``horizon_days`` days. A worker may take
several jobs when no two of them overlap (a job's interval is extended by ``gap_s`` so that two jobs
need that much time between them), each lies inside the worker's ``available_hours`` and the hours on
each calendar day stay within their ``max_hours_per_day``; every other constraint is the batch run's
(:mod:`matcher.batch`).

Exact by the cheapest means that is exact (:func:`solve_shifts`):

- **flow**: when no worker has two eligible jobs that overlap and no daily cap can bind, every time
  constraint is slack, the problem is the batch run's b-matching, and :func:`matcher.solver.solve_assignment`
  solves it as one problem (proven optimal: ``optimality_gap`` 0).
- **mip**: otherwise a 0-1 program solved by HiGHS (``highspy``): a variable per eligible edge, a
  row per job (headcount), one row per maximal group of mutually overlapping jobs of a worker (at most
  one of them; :func:`matcher._shift_kernels.worker_cliques`), one row per worker and day whose cap
  could bind. It starts from a feasible flow solution (each worker at most one job) and stops at the
  proven optimum or the time limit; the summary then reports the incumbent, the proven ``bound`` and
  the relative ``optimality_gap`` between them. Fixed-interval assignment with worker-specific
  eligibility is NP-hard (Arkin & Silverberg 1987), so a gap is possible on hard instances; it is
  never hidden.

The ``"fill"`` objective (most slots, then best score) is one MIP objective: each edge is worth
``1 + weight / (max_slots + 1)``, so one more filled slot outweighs any score difference; the integer
part of the bound is therefore a proven bound on filled slots (``filled_bound``).
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features.eligibility import Reason, first_reason, flag
from features.encode import JobTable, encode_market
from features.history import WorkerHistory
from features.pairs import PairBatch, build_pairs
from gigmatch.core.contract import Market
from gigmatch.core.defaults import CANDIDATES_PER_SLOT, DEFAULT_MAX_KM
from gigmatch.core.hours import WeeklyHours, hours_per_day
from gigmatch.core.times import market_now
from matcher._shift_kernels import worker_cliques
from matcher.batch import EXPAND, MAX_ROUNDS, AssignmentResult, batch_summary
from matcher.explain import unfilled_jobs, unmatched_workers
from matcher.objectives import DEFAULT_OBJECTIVE, get_objective
from matcher.retrieval import CandidateRetriever
from matcher.solver import solve_assignment

SECONDS_PER_DAY = 86_400.0
DEFAULT_GAP_MINUTES = 30.0
DEFAULT_TIME_LIMIT_S = 60.0
IN_PROCESS_MAX_COLUMNS = 20_000  # larger MIPs run in a child process with a hard stop (see _solve_mip)
KILL_GRACE_S = 10.0  # seconds after the time limit before that child is stopped
MIP_REL_GAP = 1e-9  # HiGHS stops before this only at the time limit; the reported gap says how far


@dataclass(frozen=True)
class ShiftSolution:
    """What :func:`solve_shifts` returns.

    Attributes
    ----------
    chosen : ndarray of bool, shape (E,)
        The chosen edges, in the caller's order.
    method : str
        ``"flow"`` (time constraints slack: the exact flow solver) or ``"mip"`` (HiGHS).
    objective_value : float
        The solver objective of ``chosen`` (see the module docstring for ``"fill"``).
    bound : float
        A proven upper bound on the objective (equal to ``objective_value`` when proven optimal).
    optimality_gap : float
        ``(bound - objective_value) / max(1, |objective_value|)``; 0 when proven optimal.
    status : str
        ``"optimal"`` or HiGHS's model status text (e.g. ``"Time limit reached"``).
    rows : dict of str to int
        Constraint rows by kind (``jobs``, ``overlap_groups``, ``daily_caps``, ``worker_caps``).
    seconds : float
        Wall time of the solve.
    model : dict
        With ``keep_model``, the MIP as solved: ``value`` (E',), ``A`` (scipy CSC, rows x E'),
        ``upper`` (rows,), ``x0`` (the start) and ``edges`` (the E' edges' positions in the input);
        maximise ``value @ x`` subject to ``A @ x <= upper``, x binary. For comparing solvers.
    """

    chosen: np.ndarray
    method: str
    objective_value: float
    bound: float
    optimality_gap: float
    status: str
    rows: dict
    seconds: float
    model: dict = field(default_factory=dict)


def edge_values(weight: np.ndarray, objective: str, max_slots: int) -> np.ndarray:
    """The MIP's value of each edge: ``weight`` for ``"weight"``; ``1 + weight / (max_slots + 1)`` for
    ``"fill"`` (lexicographic: slots first). Shape (E,), float64."""
    obj = get_objective(objective)
    w = np.asarray(weight, dtype=np.float64)
    if obj.cardinality_first:
        return 1.0 + w / (max_slots + 1.0)
    return w


def overlap_groups(
    pj: np.ndarray,
    pw: np.ndarray,
    shift_ptr: np.ndarray,
    shift_start: np.ndarray,
    shift_end: np.ndarray,
    gap_s: float,
    n_workers: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Each worker's maximal groups (two or more jobs) of mutually overlapping edges.

    Parameters
    ----------
    pj, pw : int arrays of shape (E,)
        Job and worker of each edge.
    shift_ptr : int array of shape (n_jobs + 1,)
        Job ``j``'s shifts are ``shift_ptr[j]:shift_ptr[j + 1]`` of the shift arrays.
    shift_start, shift_end : float arrays of shape (n_shifts,)
        Shift intervals, seconds; two shifts overlap when one starts less than ``gap_s`` after the other
        ends, and two jobs overlap when any of their shifts do.
    gap_s : float
        Required time between two jobs of one worker, seconds.
    n_workers : int

    Returns
    -------
    group_ptr : int64 array of shape (n_groups + 1,)
    group_edges : int64 array: edge indices of group ``g`` are ``group_edges[group_ptr[g]:group_ptr[g+1]]``.
    """
    n_sh = (shift_ptr[1:] - shift_ptr[:-1])[pj]
    edge = np.repeat(np.arange(len(pj)), n_sh)
    sh = np.repeat(shift_ptr[pj], n_sh) + (
        np.arange(int(n_sh.sum())) - np.repeat(np.cumsum(n_sh) - n_sh, n_sh)
    )
    w = pw[edge]
    order = np.lexsort((shift_start[sh], w))
    ptr = np.searchsorted(w[order], np.arange(n_workers + 1)).astype(np.int64)
    gp, members = worker_cliques(
        ptr,
        np.ascontiguousarray(shift_start[sh][order], dtype=np.float64),
        np.ascontiguousarray(shift_end[sh][order] + gap_s, dtype=np.float64),
    )
    if len(members) == 0:
        return gp, members
    # a group's shifts -> its distinct edges; groups left with fewer than two jobs constrain nothing
    group = np.repeat(np.arange(len(gp) - 1), np.diff(gp))
    key = np.unique(group * len(pj) + edge[order][members])
    group, edges = key // len(pj), key % len(pj)
    size = np.bincount(group, minlength=len(gp) - 1)
    keep = size[group] >= 2
    group, edges = group[keep], edges[keep]
    _, counts = np.unique(group, return_counts=True)
    return np.r_[0, np.cumsum(counts)].astype(np.int64), edges.astype(np.int64)


def single_shifts(start_s: np.ndarray, end_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One shift per job: ``(shift_ptr, shift_start, shift_end)`` for :func:`solve_shifts`."""
    return np.arange(len(start_s) + 1, dtype=np.int64), np.asarray(start_s, float), np.asarray(end_s, float)


def solve_shifts(
    pj: np.ndarray,
    pw: np.ndarray,
    weight: np.ndarray,
    headcount: np.ndarray,
    n_workers: int,
    shifts: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    gap_s: float = DEFAULT_GAP_MINUTES * 60,
    day_hours: np.ndarray | None = None,
    max_hours_per_day: np.ndarray | None = None,
    worker_capacity: int | None = None,
    objective: str = DEFAULT_OBJECTIVE,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    warm_start: np.ndarray | None = None,
    keep_model: bool = False,
) -> ShiftSolution:
    """The best set of edges under headcounts, no-overlap (with gap), daily caps and worker capacity.

    Parameters
    ----------
    pj, pw : int arrays of shape (E,)
        Job and worker of each eligible edge (edges must already fit the workers' hours).
    weight : float array of shape (E,)
        Match value.
    headcount : int array of shape (n_jobs,)
    n_workers : int
    shifts : tuple of arrays
        ``(shift_ptr, shift_start, shift_end)``: job ``j`` is worked in the intervals
        ``shift_start[k]:shift_end[k]`` for ``k`` in ``shift_ptr[j]:shift_ptr[j + 1]``, market-local seconds
        since the epoch (:func:`job_shifts`; :func:`single_shifts` for one interval per job).
    gap_s : float
        Minimum time between two jobs of one worker, seconds.
    day_hours : float array of shape (n_jobs, n_days), optional
        Hours of each job on each calendar day of the horizon (:func:`gigmatch.core.hours.hours_per_day`).
    max_hours_per_day : float array of shape (n_workers,) or (n_workers, n_days), optional
        Daily cap per worker (or per worker and day: what is left of it), hours; NaN for none.
    worker_capacity : int, optional
        Most jobs one worker takes over the whole horizon; None for no limit beyond time.
    objective : str
        ``"fill"`` or ``"weight"`` (:mod:`matcher.objectives`).
    time_limit_s : float
        HiGHS stops here with the best solution found and a proven bound.
    warm_start : bool array of shape (E,), optional
        A feasible choice of edges (e.g. the previous candidate round's); the MIP starts from the better
        of it and the one-job-per-worker flow solution.
    keep_model : bool
        Keep the MIP in :attr:`ShiftSolution.model` (benchmarks compare solvers on it).

    Returns
    -------
    ShiftSolution
    """
    t0 = time.perf_counter()
    obj = get_objective(objective)
    pj, pw = np.asarray(pj, dtype=np.int64), np.asarray(pw, dtype=np.int64)
    weight = np.asarray(weight, dtype=np.float64)
    headcount = np.asarray(headcount, dtype=np.int64)
    E = len(pj)
    keep = weight > 0 if obj.positive_only else np.ones(E, dtype=bool)
    if day_hours is not None and max_hours_per_day is not None and E:
        # an edge whose job alone exceeds what is left of the worker's cap on some day is never chosen
        # (and must not be in the start solution)
        n_days = day_hours.shape[1]
        caps_e = np.asarray(max_hours_per_day, dtype=np.float64)[pw]
        caps_e = caps_e[:, None] if caps_e.ndim == 1 else caps_e[:, :n_days]
        keep &= ~(day_hours[pj] > np.nan_to_num(caps_e, nan=np.inf) + 1e-9).any(axis=1)
    e = np.flatnonzero(keep)
    ej, ew = pj[e], pw[e]
    groups_ptr, groups_edges = overlap_groups(ej, ew, *shifts, gap_s, n_workers)
    # daily caps that can bind: the worker's eligible hours on that day exceed the cap
    cap_rows: list[tuple[np.ndarray, np.ndarray, float]] = []
    if day_hours is not None and max_hours_per_day is not None and len(e):
        n_days = day_hours.shape[1]
        caps = np.asarray(max_hours_per_day, dtype=np.float64)
        caps = caps[:, None].repeat(n_days, axis=1) if caps.ndim == 1 else caps[:, :n_days]
        capped = np.isfinite(caps[ew]).any(axis=1)
        if capped.any():
            ce = np.flatnonzero(capped)
            ce = ce[np.argsort(ew[ce], kind="stable")]
            h = day_hours[ej[ce]]  # (n_capped_edges, n_days)
            key = ew[ce][:, None] * n_days + np.arange(n_days)[None, :]
            load = np.bincount(key.ravel(), weights=h.ravel(), minlength=n_workers * n_days)
            binding = np.flatnonzero(load > caps.ravel() + 1e-9)
            first = np.searchsorted(ew[ce], np.arange(n_workers + 1))
            for k in binding:
                w, d = divmod(int(k), n_days)
                sel = ce[first[w] : first[w + 1]]
                sel = sel[day_hours[ej[sel], d] > 0]
                cap_rows.append((sel, day_hours[ej[sel], d], float(caps[w, d])))
    deg = np.bincount(ew, minlength=n_workers)
    cap_binds = worker_capacity is not None and bool((deg > worker_capacity).any())
    rows = {
        "jobs": int((np.bincount(ej, minlength=len(headcount)) > 0).sum()),
        "overlap_groups": len(groups_ptr) - 1,
        "daily_caps": len(cap_rows),
        "worker_caps": int((deg > worker_capacity).sum()) if cap_binds else 0,
    }
    chosen = np.zeros(E, dtype=bool)
    value = edge_values(weight, objective, int(headcount.sum()))
    if rows["overlap_groups"] == 0 and not cap_rows:
        # every time constraint is slack: the batch run's b-matching, solved exactly as one problem
        wcap = np.maximum(deg, 1) if worker_capacity is None else np.full(n_workers, worker_capacity)
        pick = solve_assignment(ej, ew, weight[e], headcount, wcap, objective=objective) if len(e) else []
        chosen[e[pick]] = True
        total = float(value[chosen].sum())
        return ShiftSolution(chosen, "flow", total, total, 0.0, "optimal", rows, time.perf_counter() - t0)

    # a feasible start: each worker at most one job (time rows and caps cannot bind then; edges whose
    # single job already exceeds a cap were excluded as hours_do_not_fit by the caller)
    start_pick = solve_assignment(
        ej,
        ew,
        weight[e],
        headcount,
        np.full(n_workers, 1 if worker_capacity is None else min(1, worker_capacity)),
        objective=objective,
    )
    x0 = np.zeros(len(e))
    x0[start_pick] = 1.0
    if warm_start is not None:
        given = np.asarray(warm_start, dtype=bool)[e].astype(np.float64)
        if float(value[e] @ given) > float(value[e] @ x0):
            x0 = given
    A, upper = _mip_rows(
        len(e), ej, ew, headcount, groups_ptr, groups_edges, cap_rows, worker_capacity, cap_binds, n_workers
    )
    x, status, objective_value, bound = _solve_mip(value[e], A, upper, x0, time_limit_s)
    if float(value[e] @ x0) > float(value[e] @ (x > 0.5)):  # HiGHS stopped on a worse incumbent
        x = x0
    chosen[e[x > 0.5]] = True
    objective_value = float(value[chosen].sum())
    if not np.isfinite(bound):  # stopped before HiGHS proved a bound: each job's best edges bound it
        order = np.lexsort((-value[e], ej))
        rank = np.arange(len(e)) - np.searchsorted(ej[order], ej[order])
        bound = float(value[e][order][rank < headcount[ej[order]]].sum())
    bound = max(bound, objective_value)
    gap = 0.0 if status == "optimal" else (bound - objective_value) / max(1.0, abs(objective_value))
    if gap <= MIP_REL_GAP:
        gap = 0.0
    model = {"value": value[e], "A": A, "upper": upper, "x0": x0, "edges": e} if keep_model else {}
    seconds = time.perf_counter() - t0
    return ShiftSolution(chosen, "mip", objective_value, bound, gap, status, rows, seconds, model)


def _mip_rows(n, ej, ew, headcount, gp, gm, cap_rows, worker_capacity, cap_binds, n_workers):
    """The constraint matrix (CSC, rows x n) and row upper bounds of the 0-1 program."""
    blocks = []  # (row index array, column index array, coefficient array, upper bound array)
    n_jobs = len(headcount)
    blocks.append((ej, np.arange(n), np.ones(n), headcount.astype(np.float64)))
    row0 = n_jobs
    n_groups = len(gp) - 1
    if n_groups:
        sizes = np.diff(gp)
        blocks.append((row0 + np.repeat(np.arange(n_groups), sizes), gm, np.ones(len(gm)), np.ones(n_groups)))
        row0 += n_groups
    if cap_rows:
        r = np.concatenate([np.full(len(s), row0 + i) for i, (s, _, _) in enumerate(cap_rows)])
        c = np.concatenate([s for s, _, _ in cap_rows])
        v = np.concatenate([h for _, h, _ in cap_rows])
        blocks.append((r, c, v, np.array([cap for _, _, cap in cap_rows])))
        row0 += len(cap_rows)
    if cap_binds:
        blocks.append((row0 + ew, np.arange(n), np.ones(n), np.full(n_workers, float(worker_capacity))))
        row0 += n_workers
    rows = np.concatenate([b[0] for b in blocks])
    cols = np.concatenate([b[1] for b in blocks])
    vals = np.concatenate([b[2] for b in blocks])
    upper = np.concatenate([b[3] for b in blocks])
    A = sp.csc_matrix((vals, (rows, cols)), shape=(row0, n))
    A.sort_indices()
    return A, upper


def _solve_mip(value, A, upper, x0, time_limit_s):
    """HiGHS on ``max value @ x, A @ x <= upper, x binary`` from ``x0``; returns (x, status, objective, bound).

    A large model runs in a child process that is stopped ``KILL_GRACE_S`` after the time limit: on
    the 20,000-worker benchmark HiGHS 1.16 spent 460 s after presolve without an LP iteration, ignoring
    both its ``time_limit`` (30-60 s) and ``cancelSolve`` (measured; README). The start ``x0`` is then
    the answer, with the bound :func:`solve_shifts` derives itself.
    """
    if len(value) <= IN_PROCESS_MAX_COLUMNS:
        return _highs(value, A, upper, x0, time_limit_s)
    import multiprocessing

    # fork: the child needs only HiGHS and the arrays, and spawn would re-import the caller's __main__
    ctx = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    with ctx.Pool(1) as pool:
        job = pool.apply_async(_highs, (value, A, upper, x0, time_limit_s))
        try:
            return job.get(timeout=time_limit_s + KILL_GRACE_S)
        except multiprocessing.TimeoutError:
            pool.terminate()
            return x0, "stopped at the time limit (HiGHS did not return)", float(value @ x0), float("inf")


def _highs(value, A, upper, x0, time_limit_s):
    """One HiGHS run (see :func:`_solve_mip`)."""
    import highspy  # imported here: only a MIP needs it

    n, row0 = len(value), A.shape[0]
    h = _quiet_highs(highspy)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", MIP_REL_GAP)
    h.setOptionValue("threads", 1)
    h.setOptionValue("random_seed", 0)  # reproducible search
    lp = highspy.HighsLp()
    lp.num_col_ = n
    lp.num_row_ = row0
    lp.col_cost_ = np.asarray(value, dtype=np.float64)
    lp.col_lower_ = np.zeros(n)
    lp.col_upper_ = np.ones(n)
    lp.row_lower_ = np.full(row0, -highspy.kHighsInf)
    lp.row_upper_ = upper
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data
    lp.a_matrix_.num_col_ = n
    lp.a_matrix_.num_row_ = row0
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n
    h.passModel(lp)
    start = highspy.HighsSolution()
    start.col_value = list(x0)
    h.setSolution(start)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    sol = h.getSolution()
    if sol.value_valid:
        x = np.asarray(sol.col_value)
    else:  # nothing better than the start was found in time
        x = x0
    bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else float("inf")
    text = "optimal" if status == "Optimal" else status
    return x, text, float(info.objective_function_value), bound


def _quiet_highs(highspy):
    """A ``highspy.Highs`` without its banner on stdout (HiGHS prints it from C when constructed)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout: nothing to protect
        h = highspy.Highs()
    else:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
    h.setOptionValue("output_flag", False)
    return h


def job_shifts(jobs: pd.DataFrame, asof_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each job's shifts, market-local seconds (README decision):

    - ``start_time`` .. ``end_time`` on one day, or ending the next morning at or before the start's clock
      time (22:00-06:00), is one shift;
    - a job whose end falls on a later day at a clock time after its start's (the usual
      ``2026-09-12T08:00`` .. ``2026-09-14T17:00``) is worked daily, 08:00-17:00 on each of the 3 days;
    - a job without ``end_time`` runs to the end of its start day; one without ``start_time`` takes the
      whole as-of day.

    Returns
    -------
    shift_ptr : int64 array of shape (n_jobs + 1,)
    shift_start, shift_end : float64 arrays of shape (n_shifts,), job by job in time order
    """
    start, end = _seconds(jobs["start_time"]), _seconds(jobs["end_time"])
    today = np.floor(asof_s / SECONDS_PER_DAY) * SECONDS_PER_DAY
    start = np.where(np.isnan(start), today, start)
    day_end = (np.floor(start / SECONDS_PER_DAY) + 1) * SECONDS_PER_DAY
    end = np.where(np.isnan(end) | (end <= start), day_end, end)
    # length of one shift: the clock time from start to end, within a day (a full day when they coincide)
    length = np.mod(end - start, SECONDS_PER_DAY)
    length = np.where(length == 0, np.minimum(end - start, SECONDS_PER_DAY), length)
    count = np.maximum(1, np.round((end - start - length) / SECONDS_PER_DAY).astype(np.int64) + 1)
    ptr = np.r_[0, np.cumsum(count)].astype(np.int64)
    k = np.arange(int(ptr[-1])) - np.repeat(ptr[:-1], count)
    s = np.repeat(start, count) + k * SECONDS_PER_DAY
    return ptr, s, s + np.repeat(length, count)


def job_intervals(jobs: pd.DataFrame, asof_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Each job's first shift start and last shift end, market-local seconds, shape (n_jobs,) each."""
    ptr, s, e = job_shifts(jobs, asof_s)
    return s[ptr[:-1]], e[ptr[1:] - 1]


def _seconds(values: pd.Series) -> np.ndarray:
    arr = pd.to_datetime(values).to_numpy(dtype="datetime64[ns]")
    out = arr.astype("int64").astype(np.float64) / 1e9
    out[np.isnat(arr)] = np.nan
    return out


def shifts_fit(
    hours: WeeklyHours, pj: np.ndarray, pw: np.ndarray, shifts: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    """Whether every shift of each pair's job lies inside the worker's hours, shape (n_pairs,) bool."""
    ptr, s, e = shifts
    n_sh = (ptr[1:] - ptr[:-1])[pj]
    pair = np.repeat(np.arange(len(pj)), n_sh)
    k = np.repeat(ptr[pj], n_sh) + (np.arange(int(n_sh.sum())) - np.repeat(np.cumsum(n_sh) - n_sh, n_sh))
    bad = ~hours.fits(pw[pair], s[k], e[k])
    return np.bincount(pair[bad], minlength=len(pj)) == 0


def time_flags(
    batch: PairBatch,
    pj: np.ndarray,
    pw: np.ndarray,
    hours: WeeklyHours,
    shifts: tuple[np.ndarray, np.ndarray, np.ndarray],
    day_hours: np.ndarray | None,
    max_hours_per_day: np.ndarray,
) -> PairBatch:
    """``batch`` with ``hours_do_not_fit`` added where a job's shift lies outside its worker's hours, or a
    single job's hours on one day already exceed the worker's daily cap."""
    bad = ~shifts_fit(hours, pj, pw, shifts)
    caps = max_hours_per_day[pw]
    if day_hours is not None:
        capped = np.isfinite(caps)
        bad[capped] |= day_hours[pj[capped]].max(axis=1) > caps[capped] + 1e-9
    flags = batch.flags | np.where(bad, flag(Reason.HOURS_DO_NOT_FIT), 0).astype(np.int16)
    reason = first_reason(flags).astype(batch.reason.dtype)
    return PairBatch(batch.X, batch.distance_km, reason, flags, batch.missing_cert)


def day_hours_of(shifts: tuple[np.ndarray, np.ndarray, np.ndarray], day0_s: float, n_days: int) -> np.ndarray:
    """Hours of each job on each calendar day from ``day0_s``: float64 array of shape (n_jobs, n_days)."""
    ptr, s, e = shifts
    per_shift = hours_per_day(s, e, day0_s, n_days)
    return np.add.reduceat(per_shift, ptr[:-1], axis=0) if len(s) else np.zeros((len(ptr) - 1, n_days))


def run_shifts(
    market: Market,
    scorer,
    *,
    horizon_days: int,
    gap_minutes: float = DEFAULT_GAP_MINUTES,
    time_limit_s: float = DEFAULT_TIME_LIMIT_S,
    max_km: float = DEFAULT_MAX_KM,
    objective: str = DEFAULT_OBJECTIVE,
    worker_capacity: int | None = None,
    min_score: float | None = None,
    candidates_per_slot: int = CANDIDATES_PER_SLOT,
    asof_s: float | None = None,
    progress=None,
) -> AssignmentResult:
    """Assign every job starting in the next ``horizon_days`` days (from the as-of day's midnight).

    Parameters
    ----------
    market : Market
        A validated market; its jobs starting in the horizon form the batch.
    scorer : object
        ``match_weight(X) -> (n_pairs,)`` and ``version``, as for :func:`matcher.batch.run_batch`.
    horizon_days : int
        Days from the as-of day's midnight; jobs starting before its end are assigned.
    gap_minutes : float
        Minimum time between two jobs of one worker.
    time_limit_s : float
        Time limit of a MIP solve (the summary reports the proven gap when it is reached).
    max_km, objective, min_score, candidates_per_slot
        As for :func:`matcher.batch.run_batch` (candidate lists grow the same way for jobs left open).
    worker_capacity : int, optional
        Most jobs per worker over the horizon; default: no limit beyond time.
    asof_s : float, optional
        The as-of time, market seconds since the epoch; default now.
    progress : callable, optional
        ``(stage_name) -> None``.

    Returns
    -------
    AssignmentResult
        Assignments carry ``start_time``, ``end_time`` and ``day``; the summary adds ``method``,
        ``optimality_gap``, ``bound``, ``filled_bound`` (``"fill"``), ``horizon_days``,
        ``gap_minutes``, ``per_day`` and the constraint rows.
    """
    get_objective(objective)
    step = progress or (lambda stage: None)
    t_start = time.perf_counter()
    asof = float(asof_s) if asof_s is not None else market_now()
    day0 = np.floor(asof / SECONDS_PER_DAY) * SECONDS_PER_DAY
    step("encode")
    all_ptr, all_s, all_e = job_shifts(market.jobs, asof)
    all_start = all_s[all_ptr[:-1]]
    in_horizon = (all_start >= day0) & (all_start < day0 + horizon_days * SECONDS_PER_DAY)
    rows = np.flatnonzero(in_horizon)
    W, J_all = encode_market(market)
    J: JobTable = J_all.take(rows)
    counts = (all_ptr[1:] - all_ptr[:-1])[rows]
    k = np.repeat(all_ptr[rows], counts) + (
        np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    shifts = (np.r_[0, np.cumsum(counts)].astype(np.int64), all_s[k], all_e[k])
    start_s, end_s = shifts[1][shifts[0][:-1]], shifts[2][shifts[0][1:] - 1]
    H = WorkerHistory(market.events, W.ids)
    hours = WeeklyHours.from_cells(list(market.workers["available_hours"]))
    caps = market.workers["max_hours_per_day"].to_numpy(dtype=np.float64)
    n_days = int(max(horizon_days, np.ceil((end_s.max() - day0) / SECONDS_PER_DAY) if len(rows) else 1))
    day_hours = day_hours_of(shifts, day0, n_days)

    step("retrieve")
    retriever = CandidateRetriever(W)
    pj, pw = retriever.candidates(J, max_km, per_slot=candidates_per_slot)
    anyone_near = retriever.count_within(J.lat, J.lon, max_km)
    solve_s, rounds = 0.0, 0
    while True:
        rounds += 1
        step("features")
        batch = build_pairs(J, W, pj, pw, history=H, asof_s=asof, max_km=max_km)
        batch = time_flags(batch, pj, pw, hours, shifts, day_hours, caps)
        step("score")
        eligible = batch.eligible
        weight = np.zeros(len(pj))
        if eligible.any():
            weight[eligible] = scorer.match_weight(batch.X[eligible])
        usable = eligible & (weight >= (min_score if min_score is not None else -np.inf))
        e = np.flatnonzero(usable)
        if rounds >= MAX_ROUNDS:
            break
        # Which jobs need more candidates is decided on the feasible flow with one job per worker (exact,
        # fast, and the MIP's start): a job open in it, whose list preselection cut short, gets EXPAND
        # times more. The MIP runs once, on the final candidate set, with the whole time budget.
        step("solve")
        t_relax = time.perf_counter()
        relaxed = np.zeros(len(pj), dtype=bool)
        if len(e):
            one = np.full(len(W), 1 if worker_capacity is None else min(1, worker_capacity))
            pick = solve_assignment(pj[e], pw[e], weight[e], J.headcount, one, objective=objective)
            relaxed[e[pick]] = True
        solve_s += time.perf_counter() - t_relax
        open_slots = J.headcount - np.bincount(pj[relaxed], minlength=len(J))
        cut = np.bincount(pj, minlength=len(J)) >= candidates_per_slot * J.headcount
        grow = (open_slots > 0) & cut
        if not grow.any():
            break
        candidates_per_slot *= EXPAND
        more_j, more_w = retriever.candidates(J, max_km, per_slot=candidates_per_slot, only=grow)
        key = np.unique(np.r_[pj * len(W) + pw, more_j * len(W) + more_w])
        if len(key) == len(pj):
            break
        pj, pw = key // len(W), key % len(W)
    step("solve")
    sol = solve_shifts(
        pj[e],
        pw[e],
        weight[e],
        J.headcount,
        len(W),
        shifts,
        gap_s=gap_minutes * 60.0,
        day_hours=day_hours,
        max_hours_per_day=caps,
        worker_capacity=worker_capacity,
        objective=objective,
        time_limit_s=time_limit_s,
    )
    solve_s += sol.seconds
    chosen = np.zeros(len(pj), dtype=bool)
    chosen[e[sol.chosen]] = True

    step("explain")
    a_j, a_w = pj[chosen], pw[chosen]
    order = np.lexsort((J.ids[a_j].astype(str), start_s[a_j]))
    a_j, a_w, a_e = a_j[order], a_w[order], np.flatnonzero(chosen)[order]
    day = np.floor((start_s[a_j] - day0) / SECONDS_PER_DAY).astype(np.int64)
    fmt = lambda s: pd.to_datetime(s * 1e9).strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)  # noqa: E731
    assignments = pd.DataFrame(
        {
            "job_id": J.ids[a_j],
            "worker_id": W.ids[a_w],
            "score": np.round(weight[a_e], 6),
            "distance_km": np.round(batch.distance_km[a_e], 3),
            "start_time": fmt(start_s[a_j]),
            "end_time": fmt(end_s[a_j]),
            "day": pd.to_datetime((day0 + day * SECONDS_PER_DAY) * 1e9)
            .strftime("%Y-%m-%d")
            .to_numpy(dtype=object),
        }
    )
    unfilled = unfilled_jobs(J, pj, batch, eligible, usable, chosen, anyone_near, market.taxonomy, max_km)
    unfilled = _mark_busy(unfilled, J, pj, pw, usable, chosen, shifts, gap_minutes * 60.0)
    unmatched = unmatched_workers(
        W, J, H, asof, a_w, scorer, 1 if worker_capacity is None else worker_capacity, max_km, min_score
    )
    dist = batch.distance_km[chosen]
    job_day = np.floor((start_s - day0) / SECONDS_PER_DAY).astype(np.int64)
    per_day = []
    for d in range(horizon_days):
        on = job_day == d
        f = int((day == d).sum())
        s = int(J.headcount[on].sum())
        per_day.append(
            {
                "day": pd.Timestamp((day0 + d * SECONDS_PER_DAY) * 1e9).strftime("%Y-%m-%d"),
                "jobs": int(on.sum()),
                "slots": s,
                "filled": f,
                "fill_rate": round(f / s, 4) if s else 0.0,
                "workers": int(len(np.unique(a_w[day == d]))),
            }
        )
    summary = batch_summary(
        J,
        W,
        weight,
        chosen,
        dist,
        pj,
        eligible,
        a_w,
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
    summary.update(
        {
            "horizon_days": horizon_days,
            "horizon_start": pd.Timestamp(day0 * 1e9).strftime("%Y-%m-%d"),
            "gap_minutes": gap_minutes,
            "time_limit_s": time_limit_s,
            "method": sol.method,
            "solver_status": sol.status,
            "optimality_gap": round(sol.optimality_gap, 9),
            "bound": round(sol.bound, 6),
            "objective_value": round(sol.objective_value, 6),
            "constraint_rows": sol.rows,
            "jobs_multi_job_workers": int((np.bincount(a_w, minlength=len(W)) > 1).sum()),
            "per_day": per_day,
        }
    )
    if get_objective(objective).cardinality_first:
        summary["filled_bound"] = int(np.floor(sol.bound + 1e-9))
    pairs = {
        "job_lat": J.lat,
        "job_lon": J.lon,
        "worker_lat": W.lat,
        "worker_lon": W.lon,
        "a_job": a_j,
        "a_worker": a_w,
        "distance_km": batch.distance_km[a_e],
    }
    return AssignmentResult(assignments, unfilled, unmatched, summary, pairs)


def _mark_busy(
    unfilled: pd.DataFrame,
    J: JobTable,
    pj: np.ndarray,
    pw: np.ndarray,
    usable: np.ndarray,
    chosen: np.ndarray,
    shifts: tuple[np.ndarray, np.ndarray, np.ndarray],
    gap_s: float,
) -> pd.DataFrame:
    """``busy_with_other_job`` for open jobs whose every usable, unchosen candidate holds an overlapping
    job (so time, not a better match elsewhere, kept them)."""
    if unfilled.empty:
        return unfilled
    taken = unfilled["reason"].isin(["eligible_workers_taken_by_better_matches"]).to_numpy()
    if not taken.any():
        return unfilled
    row_of = {j: i for i, j in enumerate(J.ids)}
    a_j, a_w = pj[chosen], pw[chosen]
    by_worker: dict[int, list[int]] = {}
    for j, w in zip(a_j.tolist(), a_w.tolist(), strict=True):
        by_worker.setdefault(w, []).append(j)
    reasons = unfilled["reason"].to_numpy(dtype=object).copy()
    starts = np.searchsorted(pj, np.arange(len(J) + 1))  # candidate pairs are grouped by job, in order
    for i in np.flatnonzero(taken):
        j = row_of[unfilled["job_id"].iloc[i]]
        sl = slice(starts[j], starts[j + 1])
        cand = pw[sl][usable[sl] & ~chosen[sl]]
        busy = [any(_jobs_overlap(shifts, j, k, gap_s) for k in by_worker.get(int(w), [])) for w in cand]
        if busy and all(busy):
            reasons[i] = Reason.BUSY_WITH_OTHER_JOB.code
    return unfilled.assign(reason=reasons)


def _jobs_overlap(shifts: tuple[np.ndarray, np.ndarray, np.ndarray], a: int, b: int, gap_s: float) -> bool:
    """Whether any shift of job ``a`` overlaps any shift of job ``b`` (with the gap)."""
    ptr, s, e = shifts
    sa, ea = s[ptr[a] : ptr[a + 1]], e[ptr[a] : ptr[a + 1]]
    sb, eb = s[ptr[b] : ptr[b + 1]], e[ptr[b] : ptr[b + 1]]
    return bool(((sa[:, None] < eb[None, :] + gap_s) & (sb[None, :] < ea[:, None] + gap_s)).any())
