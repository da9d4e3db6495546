"""The batch run split by geography: each partition's retrieval, features, scoring and solve is one task.

:func:`run_partitioned` gives the same assignment and the same reasons as :func:`matcher.batch.run_batch`
over the whole market (tested). It runs its tasks on a Dask cluster (``client=``), where the driver
never holds the candidate pairs and each worker process holds only its partitions' pairs (without
their feature matrices) until they are explained; or, without a cluster, one after another in this
process, which then holds every partition's pairs (without features) until the end.

How the market is split
    A grid of ``partition_km`` squares (in degrees of latitude and longitude at the market's median
    latitude) cuts the map. A partition is one non-empty cell: it **owns** the jobs sited in the cell
    (it retrieves, scores, explains and reports them) and the workers living there (it explains the
    ones left unmatched). It also reads its **halo**: every worker within ``max_km`` of one of its
    jobs, found with an exact great-circle bound on latitude and longitude, so that a job's
    candidates are exactly those the whole-market run retrieves (the ``candidates_per_slot *
    headcount`` nearest able workers within ``max_km``), and the jobs nearest to its own workers, so
    that their reasons are worked out on the same jobs.

Data
    Given a market folder, the driver loads it and drops it once the partitions' inputs are written.
    The driver validates the market once, writes the jobs once and each partition's workers and
    their events as Parquet files (contract form: the task validates its own rows again, so a task
    sees exactly the tables the whole-market run sees), and from then on handles only small arrays:
    per-job candidate counts, each partition's *core* edges (below), chosen edges, prices. Every
    candidate pair's features, and its edge, stay in the task that made them; edges are written to
    the task's own Parquet file and read back only by that partition's later tasks.

Exactness
    Each partition solves its own jobs over its candidates with :func:`matcher.solver.solve_assignment`
    (exact). Partitions whose candidate graphs share no worker are independent: the union of their
    optima is the optimum (the graph's connected components never cross them). Partitions that share
    workers (a dense province is one big component) are **reconciled**: their *core* edges (each
    partition's own optimum, each job's ``2 * headcount + 2`` best edges, and under ``fill`` each
    worker's best edge) are solved together as one min-cost flow by
    :func:`matcher.solver.solve_and_price`, which also returns node potentials (dual prices) on one
    integer cost scale shared by all partitions (:func:`matcher.solver.integer_scale`). Every partition
    then checks *all* its edges against those prices in its own task (the reduced cost of an edge,
    :meth:`matcher.solver.Prices.violated`); the edges that fail join the core and the core is solved
    again. The driver solves the core by connected components (:class:`matcher.solver.ComponentFlows`:
    a dense province's core is still hundreds of components, and OR-Tools' time grows faster than
    the graph): a component unchanged since the last solve, in this pricing round or the previous
    candidate round, keeps its optimal flow and its potentials, the changed ones are solved on the
    cluster's workers (who would otherwise wait), and the components' potentials, tied at the
    source and the sink, are one certificate. When no edge fails anywhere, the residual graph of the
    whole problem has no negative cycle: the LP duality certificate proves the result optimal for
    every edge of every partition (lexicographically under ``fill``: most slots, then best total
    score). If ``RECONCILE_MAX_ROUNDS``
    pass without a proof, the reconciled partitions' edges are gathered and solved whole (exact; the
    summary says so, with the edge count).

Candidate rounds
    As in the whole-market run, jobs left with open slots whose candidate list was cut short get
    ``EXPAND`` times more candidates and everything is solved again (at most ``MAX_ROUNDS`` rounds);
    only partitions with such jobs run again, in the worker process that holds their pairs, and
    there only the grown jobs are retrieved, featurised and scored again (a pair's features depend
    on its job's candidate pool, never on other jobs' pairs; a process without the pairs computes
    them all). Each round's reconciliation starts from the previous round's final core: the driver
    keeps the edges whose weights cannot have changed, and a grown job's share goes to its
    partition's task, which flags those edges core with their new weights. A partition reconciled
    once stays shared (edges only grow), so later rounds skip its own optimum.

Outputs
    Explanation tasks write each partition's assignments, unfilled jobs and unmatched workers as
    Parquet parts; the driver appends them, as each partition finishes, to ``assignments.csv``,
    ``unfilled_jobs.csv``, ``unmatched_workers.csv`` (rows grouped by partition) and to one Parquet file
    of each, then writes ``summary.json`` (with each partition's time, candidate pairs and its
    worker process's peak memory, and the driver's peak) and ``report.html`` from aggregates.

Ties: the whole-market run and this one agree on the optimum's value always; on which of several
equally good assignments is chosen only when no two assignments tie exactly (real-valued scores).
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from features.encode import encode_jobs, encode_workers
from features.history import WorkerHistory
from features.market import MarketStats
from features.pairs import build_pairs
from gigmatch.core.contract import Market, empty_table, load_market, write_vocabulary
from gigmatch.core.defaults import CANDIDATES_PER_SLOT, DEFAULT_MAX_KM
from gigmatch.core.geo import EARTH_RADIUS_KM
from gigmatch.core.times import market_now
from matcher.batch import EXPAND, MAX_ROUNDS
from matcher.explain import SUGGESTION_JOBS_PER_WORKER, unfilled_jobs, unmatched_workers
from matcher.objectives import DEFAULT_OBJECTIVE, get_objective
from matcher.retrieval import CandidateRetriever, GeoIndex
from matcher.solver import (
    ComponentFlows,
    certificate_costs,
    decimal_places,
    integer_scale,
    solve_and_price,
    solve_assignment,
)

DEFAULT_PARTITION_KM = 100.0  # grid cell side, km: a few counties per cell (README: 50 km measured slower)
RECONCILE_MAX_ROUNDS = 8  # pricing rounds across partitions before the reconciled edges are solved whole
# pricing also brings the edges within this share of the largest weight of violating (only strictly
# violated edges decide the certificate): measured at 200,000 workers, 0.02 cut the driver's solves
# 25.1 -> 19.7 s (pricing rounds 6/5/4 -> 5/4/3 over the candidate rounds; 0.05: 20.5 s)
PRICE_MARGIN = 0.02
KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180.0

_S, _I, _F = pa.string(), pa.int64(), pa.float64()
OUTPUT_SCHEMAS = {
    "assignments": pa.schema([("job_id", _S), ("worker_id", _S), ("score", _F), ("distance_km", _F)]),
    "unfilled_jobs": pa.schema(
        [
            ("job_id", _S),
            ("trade", _S),
            ("open_slots", _I),
            ("reason", _S),
            ("candidates_within_radius", _I),
            ("eligible_candidates", _I),
            ("detail", _S),
        ]
    ),
    "unmatched_workers": pa.schema(
        [
            ("worker_id", _S),
            ("reason", _S),
            ("jobs_within_radius", _I),
            ("eligible_jobs", _I),
            ("what_would_change", _S),
        ]
    ),
}
"""Column types of the Parquet outputs (fixed, so that parts from every partition append alike)."""

__all__ = ["run_partitioned", "PartitionPlan", "plan_partitions", "DEFAULT_PARTITION_KM"]


# ----------------------------------------------------------------------------------------- the plan
@dataclass
class PartitionPlan:
    """How a market is cut: owners and halos, as global row indices.

    Attributes
    ----------
    jobs : list of int64 arrays
        Per partition, the jobs it owns (rows of ``market.jobs``), ascending.
    owned_workers : list of int64 arrays
        Per partition, the workers living in its cell (rows of ``market.workers``), ascending.
    workers : list of int64 arrays
        Per partition, owned workers and its halo (every worker within ``max_km`` of one of its
        jobs), ascending.
    cells : list of (int, int)
        Each partition's (row, column) in the grid.
    partition_km : float
        Side of a grid cell, km.
    """

    jobs: list
    owned_workers: list
    workers: list
    cells: list
    partition_km: float

    def __len__(self) -> int:
        return len(self.jobs)


def _lon_margin_deg(max_km: float, max_abs_lat_deg: float) -> float:
    """Largest longitude difference (degrees) of two points within ``max_km`` whose latitudes are at
    most ``max_abs_lat_deg`` in magnitude: from the haversine formula,
    ``sin(dlon / 2) <= sin(d / 2R) / cos(lat)`` (exact bound, then a hair of slack)."""
    lat = math.radians(min(max_abs_lat_deg, 89.9))
    x = math.sin(max_km / (2 * EARTH_RADIUS_KM)) / math.cos(lat)
    return 360.0 if x >= 1 else math.degrees(2 * math.asin(x)) * (1 + 1e-9) + 1e-9


def plan_partitions(
    worker_lat: np.ndarray,
    worker_lon: np.ndarray,
    job_lat: np.ndarray,
    job_lon: np.ndarray,
    partition_km: float,
    max_km: float,
) -> PartitionPlan:
    """Cut a market into grid cells of ``partition_km`` and find each cell's halo of workers.

    Parameters
    ----------
    worker_lat, worker_lon : float arrays of shape (n_workers,)
        Homes, WGS84 degrees.
    job_lat, job_lon : float arrays of shape (n_jobs,)
        Sites, WGS84 degrees.
    partition_km : float
        Side of a cell, km (> 0).
    max_km : float
        Retrieval radius, km: a cell's halo is every worker within it of one of the cell's jobs
        (a superset: a latitude-longitude box around the jobs that provably holds them all).

    Returns
    -------
    PartitionPlan
    """
    if not (partition_km > 0 and math.isfinite(partition_km)):
        raise ValueError(f"partition_km must be a positive finite number, got {partition_km}")
    all_lat = np.r_[worker_lat, job_lat]
    lat0 = (
        float(np.median(job_lat))
        if len(job_lat)
        else (float(np.median(worker_lat)) if len(worker_lat) else 0.0)
    )
    dlat = partition_km / KM_PER_DEGREE
    dlon = partition_km / (KM_PER_DEGREE * max(math.cos(math.radians(lat0)), 0.01))
    lat_min = float(all_lat.min()) if len(all_lat) else 0.0
    lon_min = float(np.r_[worker_lon, job_lon].min()) if len(all_lat) else 0.0

    def cell(lat, lon):
        return np.floor((lat - lat_min) / dlat).astype(np.int64), np.floor((lon - lon_min) / dlon).astype(
            np.int64
        )

    jr, jc = cell(job_lat, job_lon)
    wr, wc = cell(worker_lat, worker_lon)
    width = int(max(jc.max(initial=0), wc.max(initial=0))) + 1
    job_key, worker_key = jr * width + jc, wr * width + wc
    keys = np.unique(np.r_[job_key, worker_key])
    job_part = np.searchsorted(keys, job_key)
    worker_part = np.searchsorted(keys, worker_key)
    jobs = _groups(job_part, len(keys))
    owned = _groups(worker_part, len(keys))

    margin_lat = max_km / KM_PER_DEGREE * (1 + 1e-9) + 1e-9
    order = np.argsort(worker_lat, kind="stable")
    sorted_lat = worker_lat[order]
    halos = []
    for p in range(len(keys)):
        own_jobs = jobs[p]
        if len(own_jobs) == 0:
            halos.append(owned[p])
            continue
        lo_lat = float(job_lat[own_jobs].min()) - margin_lat
        hi_lat = float(job_lat[own_jobs].max()) + margin_lat
        margin_lon = _lon_margin_deg(max_km, max(abs(lo_lat), abs(hi_lat)))
        lo_lon = float(job_lon[own_jobs].min()) - margin_lon
        hi_lon = float(job_lon[own_jobs].max()) + margin_lon
        a, b = (
            np.searchsorted(sorted_lat, [lo_lat, hi_lat], side="left")[0],
            np.searchsorted(sorted_lat, hi_lat, side="right"),
        )
        rows = order[a:b]
        lon = worker_lon[rows]
        inside = (lon >= lo_lon) & (lon <= hi_lon) if margin_lon < 180 else np.ones(len(rows), bool)
        halos.append(np.union1d(rows[inside], owned[p]))
    cells = [(int(k // width), int(k % width)) for k in keys]
    return PartitionPlan(jobs, owned, halos, cells, float(partition_km))


def _groups(label: np.ndarray, n: int) -> list[np.ndarray]:
    """Indices of ``label == g`` for g in 0..n-1, each ascending."""
    order = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[order], np.arange(n + 1))
    return [order[bounds[g] : bounds[g + 1]].astype(np.int64) for g in range(n)]


# ------------------------------------------------------------------------------------ task-side state
_STATE: dict = {}  # (run_dir, part) -> _PartitionData, per worker process: later tasks reuse it


@dataclass
class _PartitionData:
    """What a partition's tasks share inside one worker process (rebuilt from files when absent)."""

    W: object
    J: object  # own jobs first (n_own rows), then the jobs nearest to its own workers
    J_own: object
    H: WorkerHistory
    taxonomy: object
    worker_gid: np.ndarray
    job_gid: np.ndarray
    owned: np.ndarray  # (n_workers_local,) bool
    n_own: int
    retriever: CandidateRetriever
    anyone_near: np.ndarray
    pairs: dict | None = None  # the latest round's pairs (no feature matrix), for the explanation
    edges: dict | None = None  # the latest round's usable edges (global job, worker, weight), for pricing


def _rss_mb() -> float:
    """This process's peak resident set size so far, MB.

    ``VmHWM`` from ``/proc/self/status`` where there is one: ``getrusage``'s ``ru_maxrss`` carries a
    parent's peak across fork and exec, so Dask workers started from a driver that had loaded a
    large market all reported the driver's peak (measured: every worker at the driver's 1,898 MB).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


_PEAK_RESET: set = set()


def _reset_peak_once(cfg: dict) -> None:
    """In a worker process (not the driver), reset the kernel's peak-RSS mark before its first task.

    A worker forked from a driver holding a large market inherits the driver's high-water mark, so
    without the reset every worker reports the driver's size (measured). Linux only (``clear_refs``
    value 5); elsewhere nothing happens and the figure is an upper bound.
    """
    pid = os.getpid()
    if pid == cfg.get("driver_pid") or pid in _PEAK_RESET:
        return
    _PEAK_RESET.add(pid)
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        pass


def _load_partition(run_dir: str, part: int, cfg: dict) -> _PartitionData:
    _reset_peak_once(cfg)
    key = (run_dir, part)
    if key in _STATE:
        return _STATE[key]
    root = Path(run_dir)
    pdir = root / f"p{part:05d}"
    taxonomy = _taxonomy(root)
    workers = read_validated(pdir / "workers.parquet", "workers")
    events = read_validated(pdir / "events.parquet", "events")
    employers = read_validated(root / "employers.parquet", "employers")
    worker_gid = np.load(pdir / "worker_gid.npy")
    owned = np.load(pdir / "owned.npy")
    own_jobs = np.load(pdir / "job_gid.npy")
    # the jobs nearest to each own worker (for its reasons): the whole market's job sites, indexed here
    coords = pq.read_table(root / "job_coords.parquet").to_pandas()
    extra = np.zeros(0, np.int64)
    if owned.any() and len(coords):
        index = GeoIndex(coords["lat"].to_numpy(), coords["lon"].to_numpy())
        _, near = index.nearest(
            workers["lat"].to_numpy()[owned], workers["lon"].to_numpy()[owned], SUGGESTION_JOBS_PER_WORKER
        )
        extra = np.setdiff1d(np.unique(near), own_jobs)
    job_gid = np.r_[own_jobs, extra].astype(np.int64)
    jobs = _lists_back(pq.read_table(root / "jobs.parquet").take(pa.array(job_gid)).to_pandas(), "jobs")
    stats = MarketStats(
        coords["trade"].to_numpy(dtype=object), coords["posted_s"].to_numpy(), coords["daily_wage"].to_numpy()
    )
    W = encode_workers(workers, taxonomy)
    J = encode_jobs(jobs, W, employers, stats=stats, taxonomy=taxonomy)
    J_own = J.take(np.arange(len(own_jobs)))
    retriever = CandidateRetriever(W)
    data = _PartitionData(
        W=W,
        J=J,
        J_own=J_own,
        H=WorkerHistory(events, W.ids),
        taxonomy=taxonomy,
        worker_gid=worker_gid,
        job_gid=job_gid,
        owned=owned,
        n_own=len(own_jobs),
        retriever=retriever,
        anyone_near=retriever.count_within(J_own.lat, J_own.lon, cfg["max_km"]),
    )
    _STATE[key] = data
    return data


def write_validated(frame: pd.DataFrame, path: Path) -> None:
    """Write a validated table as Parquet, as it is (list cells become Parquet lists)."""
    frame.reset_index(drop=True).to_parquet(path, index=False)


def read_validated(path: Path, table: str) -> pd.DataFrame:
    """Read back a table written by :func:`write_validated`: equal to what was written (tested).

    The driver validated the market once; a partition reads its rows back instead of validating
    them again (which cost more than everything else a task does).
    """
    return _lists_back(pd.read_parquet(path), table)


def _lists_back(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Parquet gives list cells back as arrays; the validated form holds Python lists."""
    if len(frame) == 0:
        return empty_table(table)
    for c in frame.columns:
        if frame[c].dtype == object and isinstance(frame[c].iloc[0], np.ndarray):
            frame[c] = [list(v) for v in frame[c]]
    return frame


def _taxonomy(root: Path):
    from gigmatch.core.contract import load_vocabulary

    return load_vocabulary(root)


def _scorer(cfg: dict):
    from models.scorer import load_scorer

    return load_scorer(Path(cfg["model"]) if cfg["model"] else None)


# ----------------------------------------------------------------------------------------- the tasks
def _edges_task(
    run_dir: str,
    part: int,
    cfg: dict,
    per_slot: np.ndarray,
    round_no: int,
    warm_keys: np.ndarray | None = None,
    solve_local: bool = True,
) -> dict:
    """Retrieve, compute features, score and solve one partition's jobs (one candidate round).

    ``per_slot`` (n_own,) is each own job's candidates per slot this round. ``warm_keys`` (global
    ``job * 2**31 + worker``) are edges of the previous round's final reconciled core whose job's
    list grew: they join this round's core with their new weights (the driver cannot reweigh them).
    Without ``solve_local`` (a partition already reconciled in an earlier round: it shares workers
    for good, as its edges only grow) its own optimum is not solved: only the reconciliation's
    optimum counts there, and the last core seeds it better. Writes
    ``p<part>/edges_r<round>.parquet`` (usable edges: global job and worker, weight, ``core``, ``local``)
    and returns small arrays and figures.
    """
    t0 = time.perf_counter()
    d = _load_partition(run_dir, part, cfg)
    scorer = _scorer(cfg)
    prev = d.pairs
    if prev is not None and prev["round"] == round_no - 1 and len(prev["per_slot"]) == len(per_slot):
        # a later candidate round in the process that ran the previous one: only the jobs whose list
        # grew are retrieved, featurised and scored again (a pair's features depend on its job's pool,
        # never on other jobs' pairs, so the other jobs' pairs are exactly what they were)
        redo = per_slot != prev["per_slot"]
    else:
        prev, redo = None, np.ones(len(per_slot), dtype=bool)
    parts_j, parts_w = [], []
    for level in np.unique(per_slot[redo]):
        pj, pw = d.retriever.candidates(
            d.J_own, cfg["max_km"], per_slot=int(level), only=redo & (per_slot == level)
        )
        parts_j.append(pj)
        parts_w.append(pw)
    pj = np.concatenate(parts_j) if parts_j else np.zeros(0, np.int64)
    pw = np.concatenate(parts_w) if parts_w else np.zeros(0, np.int64)
    batch = build_pairs(d.J_own, d.W, pj, pw, history=d.H, asof_s=cfg["asof"], max_km=cfg["max_km"])
    weight = np.zeros(len(pj))
    if batch.eligible.any():
        weight[batch.eligible] = scorer.match_weight(batch.X[batch.eligible])
    batch = replace(batch, X=np.zeros((0, 0), np.float32))  # the explanation needs the rest, not features
    if prev is not None:
        keep = ~redo[prev["pj"]]
        old = prev["batch"]
        pj, pw = np.r_[prev["pj"][keep], pj], np.r_[prev["pw"][keep], pw]
        weight = np.r_[prev["weight"][keep], weight]
        batch = replace(
            batch,
            distance_km=np.r_[old.distance_km[keep], batch.distance_km],
            reason=np.r_[old.reason[keep], batch.reason],
            flags=np.r_[old.flags[keep], batch.flags],
            missing_cert=np.r_[old.missing_cert[keep], batch.missing_cert],
        )
    order = np.lexsort((pw, pj))
    pj, pw, weight = pj[order], pw[order], weight[order]
    batch = replace(
        batch,
        distance_km=batch.distance_km[order],
        reason=batch.reason[order],
        flags=batch.flags[order],
        missing_cert=batch.missing_cert[order],
    )
    eligible = batch.eligible
    min_score = cfg["min_score"]
    usable = eligible & (weight >= (min_score if min_score is not None else -np.inf))
    e = np.flatnonzero(usable)
    wcap = np.full(len(d.W), cfg["worker_capacity"], dtype=np.int64)
    t_solve = time.perf_counter()
    local = np.zeros(len(e), dtype=bool)
    if solve_local:
        local[:] = solve_assignment(
            pj[e], pw[e], weight[e], d.J_own.headcount, wcap, objective=cfg["objective"]
        )
    solve_s = time.perf_counter() - t_solve
    core = _core_seed(pj[e], pw[e], weight[e], d.J_own.headcount, wcap, cfg["objective"]) | local
    gj, gw = d.job_gid[pj[e]], d.worker_gid[pw[e]]
    if warm_keys is not None and len(warm_keys):
        core |= _isin(gj * np.int64(2**31) + gw, warm_keys)
    path = Path(run_dir) / f"p{part:05d}" / f"edges_r{round_no}.parquet"
    pq.write_table(
        pa.table({"job": gj, "worker": gw, "weight": weight[e], "core": core, "local": local}), path
    )
    d.edges = {"job": gj, "worker": gw, "weight": weight[e], "round": round_no}
    # the explanation and the next candidate round need this round's pairs, not their features
    d.pairs = {
        "pj": pj,
        "pw": pw,
        "batch": batch,
        "eligible": eligible,
        "usable": usable,
        "weight": weight,
        "round": round_no,
        "per_slot": per_slot.copy(),
    }
    top = float(np.abs(weight[e]).max()) if len(e) else 0.0
    return {
        "part": part,
        "round": round_no,
        "pairs": len(pj),
        "pairs_computed": int(len(pj) if prev is None else len(pj) - int(keep.sum())),
        "eligible": int(eligible.sum()),
        "edges": len(e),
        "candidates": np.bincount(pj, minlength=d.n_own),
        "edge_workers": np.unique(gw),
        "local_job": gj[local],
        "local_worker": gw[local],
        "top": top,
        "solved_local": bool(solve_local),
        "places": decimal_places(weight[e]),
        "seconds": time.perf_counter() - t0,
        "solve_seconds": solve_s,
        "rss_mb": _rss_mb(),
        "pid": os.getpid(),
        "address": _worker_address(),
    }


def _worker_address() -> str | None:
    """The Dask worker this task runs on (None in-process), so that later tasks can go to it."""
    try:
        from dask.distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return None


def _core_seed(j, w, weight, job_cap, worker_cap, objective: str) -> np.ndarray:
    """Each job's ``2 * headcount + 2`` best edges, and under ``fill`` each worker's best edge."""
    from matcher import _kernels

    if len(j) == 0:
        return np.zeros(0, dtype=bool)
    keep = _kernels.top_per_group(j, weight, 2 * job_cap + 2)
    if get_objective(objective).cardinality_first:
        keep |= _kernels.top_per_group(w, weight, np.minimum(worker_cap, 1))
    return keep


def _read_edges(run_dir: str, part: int, round_no: int, core_only: bool) -> dict:
    """A partition's edge file as numpy arrays (the core rows only, when asked)."""
    path = Path(run_dir) / f"p{part:05d}" / f"edges_r{round_no}.parquet"
    table = pq.read_table(path, filters=[("core", "=", True)] if core_only else None)
    return {c: table.column(c).to_numpy() for c in ("job", "worker", "weight")}


def _check_task(run_dir: str, part: int, round_no: int, cfg: dict, scale: float, prices) -> dict:
    """Price every edge of one partition; return those with a negative reduced cost (small arrays).

    With ``cfg["price_margin"]`` > 0, edges whose reduced cost is below that share of the largest
    weight come too (``violated`` counts only the negative ones, which decide the certificate):
    edges about to become violated join the core a round early.
    """

    t0 = time.perf_counter()
    cached = _STATE.get((run_dir, part))
    if cached is not None and cached.edges is not None and cached.edges["round"] == round_no:
        edges = cached.edges  # this process made them: no need to read the file again
    else:
        edges = _read_edges(run_dir, part, round_no, core_only=False)
    cost = -np.round(edges["weight"] * scale).astype(np.int64)
    major, minor = certificate_costs(cost, get_objective(cfg["objective"]))
    bad = prices.violated(edges["job"], edges["worker"], major, minor)
    n_bad = int(bad.sum())
    margin = int(round(cfg.get("price_margin", 0.0) * scale))
    if n_bad and margin > 0:
        bad = prices.violated(edges["job"], edges["worker"], major, minor - margin)
    return {
        "part": part,
        "violated": n_bad,
        "job": edges["job"][bad],
        "worker": edges["worker"][bad],
        "weight": edges["weight"][bad],
        "seconds": time.perf_counter() - t0,
        "rss_mb": _rss_mb(),
    }


def _check_many(run_dir: str, parts: list, rounds: list, cfg: dict, scale: float, prices_path: str) -> dict:
    """:func:`_check_task` over several partitions in one task; the violators concatenated."""
    from matcher.solver import Prices

    z = np.load(prices_path)  # once per task: at province scale these are millions of entries
    prices = Prices(z["job_major"], z["job_minor"], z["worker_major"], z["worker_minor"])
    out = [_check_task(run_dir, p, r, cfg, scale, prices) for p, r in zip(parts, rounds, strict=True)]
    return {
        "partitions": len(parts),
        "violated": sum(o["violated"] for o in out),
        "job": np.concatenate([o["job"] for o in out]),
        "worker": np.concatenate([o["worker"] for o in out]),
        "weight": np.concatenate([o["weight"] for o in out]),
    }


def _explain_task(run_dir: str, part: int, cfg: dict, per_slot: np.ndarray, round_no: int) -> dict:
    """Reasons and output parts for one partition, given the final chosen edges (``chosen.parquet``)."""
    t0 = time.perf_counter()
    d = _load_partition(run_dir, part, cfg)
    if d.pairs is None or d.pairs["round"] != round_no:  # another process ran the edges: redo them here
        _edges_task(run_dir, part, cfg, per_slot, round_no)
    scorer = _scorer(cfg)
    pj, pw, batch = d.pairs["pj"], d.pairs["pw"], d.pairs["batch"]
    root = Path(run_dir)
    chosen_tab = pq.read_table(root / "chosen.parquet").to_pandas()
    # chosen pairs of own jobs, located among this partition's candidate pairs
    local_worker = pd.Index(d.worker_gid)
    key_pairs = d.job_gid[pj] * np.int64(2**31) + d.worker_gid[pw]
    key_chosen = chosen_tab["job"].to_numpy() * np.int64(2**31) + chosen_tab["worker"].to_numpy()
    chosen = _isin(key_pairs, key_chosen)
    unfilled = unfilled_jobs(
        d.J_own,
        pj,
        batch,
        d.pairs["eligible"],
        d.pairs["usable"],
        chosen,
        d.anyone_near,
        d.taxonomy,
        cfg["max_km"],
    )
    # own workers matched anywhere count as matched; halo workers are other partitions' to explain
    pos = local_worker.get_indexer(chosen_tab["worker"].to_numpy())
    assigned = np.r_[pos[pos >= 0], np.flatnonzero(~d.owned)].astype(np.int64)
    unmatched = unmatched_workers(
        d.W,
        d.J,
        d.H,
        cfg["asof"],
        assigned,
        scorer,
        cfg["worker_capacity"],
        cfg["max_km"],
        cfg["min_score"],
    )
    weight = d.pairs["weight"]
    assignments = pd.DataFrame(
        {
            "job_id": d.J_own.ids[pj[chosen]],
            "worker_id": d.W.ids[pw[chosen]],
            "score": np.round(weight[chosen], 6),
            "distance_km": np.round(batch.distance_km[chosen], 3),
        }
    )
    pdir = root / f"p{part:05d}"
    out = {}
    for name, frame in (
        ("assignments", assignments),
        ("unfilled_jobs", unfilled),
        ("unmatched_workers", unmatched),
    ):
        path = pdir / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        out[name] = str(path)
    result = {
        "part": part,
        "files": out,
        "filled": int(chosen.sum()),
        "total_score": float(weight[chosen].sum()),
        "distance_km": batch.distance_km[chosen],
        "a_job_lat": d.J_own.lat[pj[chosen]],
        "a_job_lon": d.J_own.lon[pj[chosen]],
        "a_worker_lat": d.W.lat[pw[chosen]],
        "a_worker_lon": d.W.lon[pw[chosen]],
        "workers_matched": int(len(np.unique(pw[chosen]))),
        "seconds": time.perf_counter() - t0,
        "rss_mb": _rss_mb(),
    }
    _STATE.pop((run_dir, part), None)  # the partition is done in this process
    return result


# --------------------------------------------------------------------------------------- executors
class _InProcess:
    """Runs tasks here, one after another, with the interface the driver uses of a Dask client."""

    def run(self, fn, calls: list[tuple], where: list | None = None):
        """Yield ``(call index, result)`` as each call finishes (``where`` is ignored here)."""
        for i, args in enumerate(calls):
            yield i, fn(*args)

    def map_in_order(self, fn, calls: list[tuple]) -> list:
        """``[fn(*call) for call in calls]``."""
        return [fn(*args) for args in calls]


class _OnDask:
    """Runs tasks on a Dask cluster; results come back in the order they finish."""

    def __init__(self, client):
        self.client = client

    def run(self, fn, calls: list[tuple], where: list | None = None):
        """Yield ``(call index, result)`` as each call finishes; ``where[i]``, a worker address or None,
        is where call ``i`` should preferably run (where its partition's state already is)."""
        from dask.distributed import as_completed

        where = where or [None] * len(calls)
        futures = [
            self.client.submit(fn, *args, pure=False, workers=[w], allow_other_workers=True)
            if w
            else self.client.submit(fn, *args, pure=False)
            for args, w in zip(calls, where, strict=True)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        for future in as_completed(futures):
            yield index[future.key], future.result()
            future.release()

    def map_in_order(self, fn, calls: list[tuple]) -> list:
        """``[fn(*call) for call in calls]``, computed on the cluster's workers (the driver waits)."""
        if not calls:  # nothing changed (scatter refuses an empty list)
            return []
        # the arguments are arrays of some MB: scattered to the workers, not embedded in the task graph
        data = self.client.scatter(list(calls))
        futures = [self.client.submit(_apply, fn, args, pure=False) for args in data]
        return self.client.gather(futures)


def _apply(fn, args: tuple):
    """``fn(*args)``: a task whose arguments arrive as one scattered tuple."""
    return fn(*args)


# ------------------------------------------------------------------------------------------ driver
def run_partitioned(
    market: Market | str | Path,
    out_dir: str | Path,
    *,
    model: str | Path | None = None,
    partition_km: float = DEFAULT_PARTITION_KM,
    max_km: float = DEFAULT_MAX_KM,
    objective: str = DEFAULT_OBJECTIVE,
    worker_capacity: int = 1,
    min_score: float | None = None,
    candidates_per_slot: int = CANDIDATES_PER_SLOT,
    asof_s: float | None = None,
    client=None,
    progress=None,
    work_dir: str | Path | None = None,
) -> dict:
    """The batch run of :func:`matcher.batch.run_batch`, partitioned by geography, written to ``out_dir``.

    Parameters
    ----------
    market : Market, or str or Path
        A validated market (all its jobs form the batch), or a market folder: the run then loads it
        (:func:`gigmatch.core.contract.load_market`) and frees its tables once the partitions' inputs
        are written, so that the driver does not hold the market while the tasks run.
    out_dir : str or Path
        Receives ``assignments.csv``/``.parquet``, ``unfilled_jobs.csv``/``.parquet``,
        ``unmatched_workers.csv``/``.parquet``, ``summary.json`` and ``report.html``.
    model : str or Path, optional
        Model directory or registry for :func:`models.scorer.load_scorer` (each task loads it);
        default: the heuristic scorer.
    partition_km : float, default=``DEFAULT_PARTITION_KM`` (100)
        Side of a grid cell, km.
    max_km, objective, worker_capacity, min_score, candidates_per_slot, asof_s
        As for :func:`matcher.batch.run_batch`.
    client : dask.distributed.Client, optional
        Run the tasks on this cluster; without one they run here, one after another.
    progress : callable, optional
        ``(stage: str, done: int, total: int, detail: str) -> None``, called as each partition's task
        of a stage finishes (stages ``"partition"``, ``"candidates r<k>"``, ``"reconcile r<k>"``,
        ``"explain"``).
    work_dir : str or Path, optional
        Folder for the partitions' files (a temporary folder, removed afterwards, by default). A Dask
        cluster on other machines needs a shared one.

    Returns
    -------
    dict
        The run's summary (also ``out_dir/summary.json``): the figures of
        :attr:`matcher.batch.AssignmentResult.summary` plus ``partitions`` (one entry per partition:
        cell, jobs, workers read, candidate pairs, seconds, peak RSS of its worker process in MB),
        ``reconciliation`` and ``driver_peak_rss_mb``.
    """
    goal = get_objective(objective)
    step = progress or (lambda stage, done, total, detail="": None)
    t_start = time.perf_counter()
    asof = float(asof_s) if asof_s is not None else market_now()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    own_tmp = work_dir is None
    root = Path(tempfile.mkdtemp(prefix="gigmatch-partitions-")) if own_tmp else Path(work_dir)
    root.mkdir(parents=True, exist_ok=True)
    run_dir = str(root)
    executor = _OnDask(client) if client is not None else _InProcess()
    try:
        stage_s: dict[str, float] = {}
        t0 = time.perf_counter()
        if not isinstance(market, Market):
            market = load_market(market)
            stage_s["load"] = round(time.perf_counter() - t0, 3)
            t0 = time.perf_counter()
        plan, n_jobs, n_workers, headcount = _write_inputs(market, root, partition_km, max_km)
        # from here on the driver needs none of the market's tables (given a folder, nothing else holds
        # them: their memory goes back before the partitions' tasks start)
        market = None
        stage_s["plan and write inputs"] = round(time.perf_counter() - t0, 3)
        step("partition", len(plan), len(plan), f"{len(plan)} partitions of {partition_km:g} km")
        cfg = {
            "max_km": float(max_km),
            "objective": goal.name,
            "worker_capacity": int(worker_capacity),
            "min_score": min_score,
            "asof": asof,
            "model": str(model) if model is not None else None,
            "driver_pid": os.getpid(),
            "price_margin": PRICE_MARGIN,
        }
        # largest first (jobs, then workers read): the last tasks to start are short, so neither worker
        # process idles long at the end of a stage (the longest-processing-time rule)
        with_jobs = sorted(
            (p for p in range(len(plan)) if len(plan.jobs[p])),
            key=lambda p: (-len(plan.jobs[p]), -len(plan.workers[p]), p),
        )
        job_part = np.full(n_jobs, -1, dtype=np.int64)
        for p in with_jobs:
            job_part[plan.jobs[p]] = p
        per_slot = {p: np.full(len(plan.jobs[p]), candidates_per_slot, dtype=np.int64) for p in with_jobs}
        edge_round: dict[int, int] = {}
        metas: dict[int, dict] = {}
        stats = {
            p: {"seconds": 0.0, "rss_mb": 0.0, "address": None, "rounds": 0, "pairs_computed": 0}
            for p in range(len(plan))
        }

        def candidates(todo: list[int], round_no: int, warm_keys: dict | None = None) -> None:
            t0 = time.perf_counter()
            warm_keys = warm_keys or {}
            calls = [
                (run_dir, p, cfg, per_slot[p], round_no, warm_keys.get(p), p not in shared) for p in todo
            ]
            # a later round goes where the partition's pairs already are (only grown jobs are redone)
            where = [stats[p]["address"] for p in todo]
            for k, (i, meta) in enumerate(executor.run(_edges_task, calls, where), start=1):
                p = todo[i]
                metas[p], edge_round[p] = meta, round_no
                stats[p]["seconds"] += meta["seconds"]
                stats[p]["rss_mb"] = max(stats[p]["rss_mb"], meta["rss_mb"])
                stats[p]["address"] = meta["address"]
                stats[p]["rounds"] += 1
                stats[p]["pairs_computed"] += meta["pairs_computed"]
                step(
                    f"candidates r{round_no}",
                    k,
                    len(todo),
                    f"partition {p}: {meta['pairs']} pairs, {meta['seconds']:.1f} s",
                )
            stage_s[f"candidates r{round_no}"] = round(time.perf_counter() - t0, 3)

        solve_s, recon, rounds, cps = 0.0, [], 1, candidates_per_slot
        warm = None  # the last reconciliation's final core: the next round starts from it
        flows = ComponentFlows()  # its components' optimal flows: the unchanged ones are not solved again
        shared: set[int] = set()  # partitions reconciled in an earlier round (they stay shared)
        candidates(with_jobs, 1)
        while True:
            t_solve = time.perf_counter()
            chosen_job, chosen_worker, info, warm = _solve_across(
                run_dir,
                metas,
                edge_round,
                cfg,
                n_jobs,
                n_workers,
                headcount,
                executor,
                step,
                rounds,
                warm,
                flows,
            )
            stage_s[f"solve r{rounds}"] = round(time.perf_counter() - t_solve, 3)
            shared |= set(info.pop("reconciled_partitions"))
            solve_s += (
                time.perf_counter()
                - t_solve
                + sum(m["solve_seconds"] for m in metas.values() if m["round"] == rounds)
            )
            recon.append(info)
            filled = np.bincount(chosen_job, minlength=n_jobs)
            grow_parts = []
            for p in with_jobs:
                open_slots = headcount[plan.jobs[p]] - filled[plan.jobs[p]]
                cut = metas[p]["candidates"] >= cps * headcount[plan.jobs[p]]
                if ((open_slots > 0) & cut).any():
                    grow_parts.append((p, (open_slots > 0) & cut))
            if rounds >= MAX_ROUNDS or not grow_parts:
                break
            cps *= EXPAND
            todo = [p for p, _ in grow_parts]
            saved = {p: (per_slot[p].copy(), metas[p], edge_round[p]) for p in todo}
            grown = np.zeros(n_jobs, dtype=bool)
            for p, grow in grow_parts:
                per_slot[p][grow] = cps
                grown[plan.jobs[p][grow]] = True
            warm_keys = {}
            if warm is not None:
                # a grown job's pool changed, and with it its edges' weights: its part of the last
                # core goes to its partition's task, which flags those edges core with their new
                # weights; the rest of the last core keeps its weights and joins the next solve
                stale = grown[warm["job"]]
                owner = job_part[warm["job"][stale]]
                keys = warm["job"][stale] * np.int64(2**31) + warm["worker"][stale]
                for p in todo:
                    warm_keys[p] = keys[owner == p]
                warm = {k: v[~stale] for k, v in warm.items()}
            candidates(todo, rounds + 1, warm_keys)
            if all(metas[p]["pairs"] == saved[p][1]["pairs"] for p in todo):
                # as the whole-market run: the larger lists brought no candidate anywhere, so stop
                for p in todo:
                    per_slot[p], metas[p], edge_round[p] = saved[p]
                break
            rounds += 1
        t_explain = time.perf_counter()
        aggregates, summary = _finish(
            run_dir,
            out,
            plan,
            metas,
            edge_round,
            per_slot,
            cfg,
            chosen_job,
            chosen_worker,
            executor,
            step,
            stats,
            n_workers,
            headcount,
        )
        stage_s["explain"] = round(time.perf_counter() - t_explain, 3)
        summary.update(
            {
                "objective": goal.name,
                "solver_seconds": round(solve_s, 3),
                "candidate_rounds": rounds,
                "total_seconds": round(time.perf_counter() - t_start, 3),
                "model_version": _scorer(cfg).version,
                "max_km": max_km,
                "worker_capacity": worker_capacity,
                "min_score": min_score,
                "partition_km": partition_km,
                "reconciliation": recon,
                "stage_seconds": stage_s,
                "driver_peak_rss_mb": round(_rss_mb(), 1),
            }
        )
        (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1, default=str))
        _write_report(out, summary, aggregates)
        return summary
    finally:
        if own_tmp:
            shutil.rmtree(root, ignore_errors=True)


def _write_inputs(market: Market, root: Path, partition_km: float, max_km: float):
    """Plan the partitions and write their input files; returns (plan, n_jobs, n_workers, headcount)."""
    workers, jobs = market.workers, market.jobs
    plan = plan_partitions(
        workers["lat"].to_numpy(float),
        workers["lon"].to_numpy(float),
        jobs["lat"].to_numpy(float),
        jobs["lon"].to_numpy(float),
        partition_km,
        max_km,
    )
    if not market.taxonomy.is_built_in:
        write_vocabulary(market.taxonomy, root, "parquet")
    write_validated(jobs, root / "jobs.parquet")
    write_validated(market.employers, root / "employers.parquet")
    posted = jobs["posted_at"].to_numpy(dtype="datetime64[ns]")
    pq.write_table(
        pa.table(
            {
                "lat": jobs["lat"].to_numpy(float),
                "lon": jobs["lon"].to_numpy(float),
                "trade": jobs["trade"].astype(str).to_numpy(),
                "posted_s": np.where(np.isnat(posted), np.nan, posted.astype(np.int64) / 1e9),
                "daily_wage": jobs["daily_wage"].to_numpy(float),
            }
        ),
        root / "job_coords.parquet",
    )
    events = market.events
    ev_worker = pd.Index(workers["worker_id"]).get_indexer(events["worker_id"])
    ev_order = np.argsort(ev_worker, kind="stable")
    ev_sorted = ev_worker[ev_order]
    for p in range(len(plan)):
        pdir = root / f"p{p:05d}"
        pdir.mkdir(parents=True, exist_ok=True)
        rows = plan.workers[p]
        write_validated(workers.iloc[rows], pdir / "workers.parquet")
        lo = np.searchsorted(ev_sorted, rows, side="left")
        hi = np.searchsorted(ev_sorted, rows, side="right")
        counts = hi - lo  # each worker's events are one run of the sorted order
        take = ev_order[
            np.repeat(lo, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        ]
        write_validated(events.iloc[np.sort(take)], pdir / "events.parquet")
        np.save(pdir / "worker_gid.npy", rows)
        np.save(pdir / "owned.npy", _isin(rows, plan.owned_workers[p]))
        np.save(pdir / "job_gid.npy", plan.jobs[p])
        (pdir / "meta.json").write_text(json.dumps({"cell": plan.cells[p]}))
    headcount = jobs["headcount"].to_numpy(dtype=np.int64)
    return plan, len(jobs), len(workers), headcount


def _solve_across(
    run_dir,
    metas,
    edge_round,
    cfg,
    n_jobs,
    n_workers,
    headcount,
    executor,
    step,
    round_no,
    warm=None,
    flows=None,
):
    """The optimum over every partition's edges: local optima where partitions are independent,
    priced reconciliation where they share workers (module docstring).

    ``warm`` (arrays ``job``, ``worker``, ``weight``), edges of the current problem with their current
    weights (the previous round's final core, less grown jobs' edges), joins the first core: it is
    most of the edges the pricing would otherwise add back round by round. ``flows``
    (:class:`matcher.solver.ComponentFlows`) keeps the optimal flows of the core's connected
    components from one driver solve to the next, across candidate rounds too. Returns (job, worker,
    info, the final core as ``warm`` for the next round or None)."""
    parts = sorted(metas)
    goal = get_objective(cfg["objective"])
    # partitions sharing a worker are joined; each group of joined partitions is reconciled as one
    pw_part = (
        np.concatenate([np.full(len(metas[p]["edge_workers"]), i) for i, p in enumerate(parts)])
        if parts
        else np.zeros(0, np.int64)
    )
    pw_worker = np.concatenate([metas[p]["edge_workers"] for p in parts]) if parts else np.zeros(0, np.int64)
    order = np.argsort(pw_worker, kind="stable")
    w_sorted, p_sorted = pw_worker[order], pw_part[order]
    same = w_sorted[1:] == w_sorted[:-1]
    crossing_workers = int(len(np.unique(w_sorted[1:][same])))
    link = coo_matrix(
        (np.ones(int(same.sum())), (p_sorted[:-1][same], p_sorted[1:][same])), shape=(len(parts), len(parts))
    )
    _, group = connected_components(link, directed=False) if len(parts) else (0, np.zeros(0, np.int64))
    jobs_out, workers_out = [], []
    # workers the partitions' own optima over-use: what reconciliation must resolve
    local_use = np.bincount(
        np.concatenate([metas[p]["local_worker"] for p in parts]).astype(np.int64)
        if parts
        else np.zeros(0, np.int64),
        minlength=n_workers,
    )
    info = {
        "round": round_no,
        "crossing_workers": crossing_workers,
        "conflicting_workers": int((local_use > cfg["worker_capacity"]).sum()),
        # partitions reconciled in an earlier round skip their own optimum (conflicts counted without)
        "own_optima_skipped": int(sum(not metas[p]["solved_local"] for p in parts)),
        "groups": [],
    }
    sizes = np.bincount(group, minlength=int(group.max()) + 1 if len(group) else 0)
    reconciled = []
    core_out = None
    for i, p in enumerate(parts):
        if sizes[group[i]] == 1 and metas[p]["solved_local"]:  # independent: its own optimum is the optimum
            jobs_out.append(metas[p]["local_job"])
            workers_out.append(metas[p]["local_worker"])
        else:
            reconciled.append(p)
    if reconciled:
        # every group of partitions that share workers, priced together: the groups' flow networks are
        # disjoint, so one solve and one round of pricing tasks serves them all (in parallel on Dask)
        cj, cw, ginfo, core_out = _reconcile(
            run_dir,
            reconciled,
            metas,
            edge_round,
            cfg,
            goal,
            n_jobs,
            n_workers,
            headcount,
            executor,
            step,
            round_no,
            warm,
            flows,
        )
        ginfo["groups_of_partitions"] = int((sizes > 1).sum())
        jobs_out.append(cj)
        workers_out.append(cw)
        info["groups"].append(ginfo)
    cj = np.concatenate(jobs_out) if jobs_out else np.zeros(0, np.int64)
    cw = np.concatenate(workers_out) if workers_out else np.zeros(0, np.int64)
    info["independent_partitions"] = len(parts) - len(reconciled)
    info["reconciled_partitions"] = reconciled
    return cj.astype(np.int64), cw.astype(np.int64), info, core_out


def _reconcile(
    run_dir,
    members,
    metas,
    edge_round,
    cfg,
    goal,
    n_jobs,
    n_workers,
    headcount,
    executor,
    step,
    round_no,
    warm=None,
    flows=None,
):
    """Solve the partitions that share workers (any number of groups), priced and certified partition
    by partition; returns (chosen jobs, chosen workers, figures, the final core edges or None)."""
    tops = [metas[p]["top"] for p in members]
    places = [metas[p]["places"] for p in members]
    scale = integer_scale(max(tops), None if any(x is None for x in places) else max(places))
    core = [_read_edges(run_dir, p, edge_round[p], core_only=True) for p in members]
    job = np.concatenate([c["job"] for c in core]).astype(np.int64)
    worker = np.concatenate([c["worker"] for c in core]).astype(np.int64)
    weight = np.concatenate([c["weight"] for c in core])
    job_cap = np.zeros(n_jobs, dtype=np.int64)
    for p in members:
        jobs_p = _plan_jobs(run_dir, p)
        job_cap[jobs_p] = headcount[jobs_p]
    warm_edges = 0
    if warm is not None and len(warm["job"]):
        n_seed = len(job)
        mine = job_cap[warm["job"]] > 0  # edges of jobs of these partitions only
        job = np.r_[job, warm["job"][mine]]
        worker = np.r_[worker, warm["worker"][mine]]
        weight = np.r_[weight, warm["weight"][mine]]
        _, first = np.unique(job * np.int64(n_workers) + worker, return_index=True)
        first = np.sort(first)  # one copy of each edge: a pair twice would be a second path
        warm_edges = len(first) - n_seed
        job, worker, weight = job[first], worker[first], weight[first]
    worker_cap = np.full(n_workers, cfg["worker_capacity"], dtype=np.int64)
    prices_path = str(Path(run_dir) / f"prices_r{round_no}.npz")
    solve_wall = price_wall = 0.0  # the driver's solves, and the pricing tasks' round trips
    flows = flows if flows is not None else ComponentFlows()
    solved_before, reused_before = flows.solved_edges, flows.reused_edges
    for k in range(1, RECONCILE_MAX_ROUNDS + 1):
        t_k = time.perf_counter()
        cost = -np.round(weight * scale).astype(np.int64)
        # only the core's components changed since the last solve are solved again, on the workers
        taken, prices = solve_and_price(
            job, worker, cost, job_cap, worker_cap, goal, cache=flows, map_chunks=executor.map_in_order
        )
        solve_wall += time.perf_counter() - t_k
        if prices is None:
            break
        t_k = time.perf_counter()
        np.savez(
            prices_path,
            job_major=prices.job_major,
            job_minor=prices.job_minor,
            worker_major=prices.worker_major,
            worker_minor=prices.worker_minor,
        )
        # one pricing task per worker process, over the partitions whose edges it already holds:
        # pricing is fast, and a task per partition per round cost more in scheduling than in work
        by_place: dict = {}
        for p in members:
            by_place.setdefault(metas[p]["address"], []).append(p)
        places_ = list(by_place)
        calls = [
            (run_dir, by_place[a], [edge_round[p] for p in by_place[a]], cfg, scale, prices_path)
            for a in places_
        ]
        bad_j, bad_w, bad_wt = [], [], []
        n_bad = 0
        for n_done, (_, res) in enumerate(executor.run(_check_many, calls, places_), start=1):
            n_bad += res["violated"]
            bad_j.append(res["job"])
            bad_w.append(res["worker"])
            bad_wt.append(res["weight"])
            step(
                f"reconcile r{round_no}.{k}",
                n_done,
                len(calls),
                f"{res['partitions']} partitions: {res['violated']} edges improve",
            )
        price_wall += time.perf_counter() - t_k
        if n_bad == 0:
            return (
                job[taken],
                worker[taken],
                {
                    "partitions": len(members),
                    "pricing_rounds": k,
                    "core_edges": len(job),
                    "warm_start_edges": int(warm_edges),
                    "edges_solved": int(flows.solved_edges - solved_before),
                    "edges_reused": int(flows.reused_edges - reused_before),
                    "driver_solve_seconds": round(solve_wall, 3),
                    "pricing_seconds": round(price_wall, 3),
                    "certified": True,
                },
                {"job": job, "worker": worker, "weight": weight},
            )
        new_j, new_w, new_wt = np.concatenate(bad_j), np.concatenate(bad_w), np.concatenate(bad_wt)
        if cfg.get("price_margin", 0.0) > 0:  # near-violated edges may be in the core already
            fresh = ~_isin(new_j * np.int64(n_workers) + new_w, job * np.int64(n_workers) + worker)
            new_j, new_w, new_wt = new_j[fresh], new_w[fresh], new_wt[fresh]
        job = np.r_[job, new_j]
        worker = np.r_[worker, new_w]
        weight = np.r_[weight, new_wt]
    # no certificate within the rounds: gather the group's edges and solve them whole (exact)
    full = [_read_edges(run_dir, p, edge_round[p], core_only=False) for p in members]
    job = np.concatenate([f["job"] for f in full]).astype(np.int64)
    worker = np.concatenate([f["worker"] for f in full]).astype(np.int64)
    weight = np.concatenate([f["weight"] for f in full])
    chosen = solve_assignment(job, worker, weight, job_cap, worker_cap, objective=goal.name)
    return (
        job[chosen],
        worker[chosen],
        {
            "partitions": len(members),
            "pricing_rounds": RECONCILE_MAX_ROUNDS,
            "core_edges": len(job),
            "certified": False,
            "solved_whole_edges": len(job),
        },
        None,
    )


def _isin(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``np.isin(values, keys)`` for integer arrays, by sorting ``keys`` and a binary search: numpy's
    own hashes both arrays (2.6 s for 50,000 values in 2.7 million keys, measured; this 0.2 s)."""
    if len(keys) == 0 or len(values) == 0:
        return np.zeros(len(values), dtype=bool)
    ordered = np.sort(keys)
    at = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return ordered[at] == values


def _plan_jobs(run_dir: str, part: int) -> np.ndarray:
    return np.load(Path(run_dir) / f"p{part:05d}" / "job_gid.npy")


def _finish(
    run_dir,
    out,
    plan,
    metas,
    edge_round,
    per_slot,
    cfg,
    chosen_job,
    chosen_worker,
    executor,
    step,
    stats,
    n_workers,
    headcount,
):
    """Explain every partition and stream its rows into the output files as it finishes."""
    pq.write_table(pa.table({"job": chosen_job, "worker": chosen_worker}), Path(run_dir) / "chosen.parquet")
    parts = sorted(range(len(plan)), key=lambda p: (-len(plan.jobs[p]), -len(plan.workers[p]), p))
    calls = [(run_dir, p, cfg, per_slot.get(p, np.zeros(0, np.int64)), edge_round.get(p, 0)) for p in parts]
    writers: dict[str, pq.ParquetWriter] = {}
    first_csv: set[str] = set()
    dist, a_lat, a_lon, w_lat, w_lon = [], [], [], [], []
    filled = total = matched = 0
    unfilled_reasons: dict[str, int] = {}
    unmatched_reasons: dict[str, int] = {}
    n_unmatched = 0
    entries = []
    where = [stats[p]["address"] for p in parts]
    for k, (i, res) in enumerate(executor.run(_explain_task_any, calls, where), start=1):
        p = parts[i]
        for name, path in res["files"].items():
            frame = pd.read_parquet(path)
            frame.to_csv(
                out / f"{name}.csv",
                mode="a" if name in first_csv else "w",
                header=name not in first_csv,
                index=False,
            )
            first_csv.add(name)
            table = pa.Table.from_pandas(frame, schema=OUTPUT_SCHEMAS[name], preserve_index=False)
            if name not in writers:
                writers[name] = pq.ParquetWriter(out / f"{name}.parquet", OUTPUT_SCHEMAS[name])
            writers[name].write_table(table)
            if name == "unfilled_jobs":
                for r, c in frame["reason"].value_counts().items():
                    unfilled_reasons[r] = unfilled_reasons.get(r, 0) + int(c)
            elif name == "unmatched_workers":
                n_unmatched += len(frame)
                for r, c in frame["reason"].value_counts().items():
                    unmatched_reasons[r] = unmatched_reasons.get(r, 0) + int(c)
        filled += res["filled"]
        total += res["total_score"]
        matched += res["workers_matched"]
        dist.append(res["distance_km"])
        a_lat.append(res["a_job_lat"])
        a_lon.append(res["a_job_lon"])
        w_lat.append(res["a_worker_lat"])
        w_lon.append(res["a_worker_lon"])
        stats[p]["seconds"] += res["seconds"]
        stats[p]["rss_mb"] = max(stats[p]["rss_mb"], res["rss_mb"])
        meta = metas.get(p, {})
        entries.append(
            {
                "partition": p,
                "cell": list(plan.cells[p]),
                "jobs": int(len(plan.jobs[p])),
                "workers_owned": int(len(plan.owned_workers[p])),
                "workers_read": int(len(plan.workers[p])),
                "process": meta.get("pid", os.getpid()),
                "candidate_pairs": int(meta.get("pairs", 0)),
                "candidate_rounds": stats[p]["rounds"],
                "pairs_computed": stats[p]["pairs_computed"],
                "seconds": round(stats[p]["seconds"], 3),
                "worker_process_peak_rss_mb": round(stats[p]["rss_mb"], 1),
            }
        )
        step("explain", k, len(calls), f"partition {p}: {res['filled']} filled, {stats[p]['seconds']:.1f} s")
    for w in writers.values():
        w.close()
    distance = np.concatenate(dist) if dist else np.zeros(0)
    slots = int(headcount.sum())
    entries.sort(key=lambda e: e["partition"])
    aggregates = {
        "distance_km": distance,
        "a_job_lat": np.concatenate(a_lat) if a_lat else np.zeros(0),
        "a_job_lon": np.concatenate(a_lon) if a_lon else np.zeros(0),
        "a_worker_lat": np.concatenate(w_lat) if w_lat else np.zeros(0),
        "a_worker_lon": np.concatenate(w_lon) if w_lon else np.zeros(0),
    }
    return aggregates, {
        "jobs": len(headcount),
        "workers": n_workers,
        "slots": slots,
        "filled": filled,
        "fill_rate": round(filled / slots, 4) if slots else 0.0,
        "total_score": round(total, 4),
        "mean_distance_km": round(float(distance.mean()), 3) if filled else None,
        "p90_distance_km": round(float(np.quantile(distance, 0.9)), 3) if filled else None,
        "candidate_pairs": int(sum(m["pairs"] for m in metas.values())),
        "eligible_pairs": int(sum(m["eligible"] for m in metas.values())),
        "workers_matched": matched,
        "workers_unmatched": n_unmatched,
        "unfilled_reasons": dict(sorted(unfilled_reasons.items(), key=lambda kv: -kv[1])),
        "unmatched_reasons": dict(sorted(unmatched_reasons.items(), key=lambda kv: -kv[1])),
        "partitions": entries,
    }


def _explain_task_any(run_dir: str, part: int, cfg: dict, per_slot: np.ndarray, round_no: int) -> dict:
    """:func:`_explain_task` for a partition with jobs; a worker-only partition explains its workers."""
    if round_no == 0:  # no jobs: nothing retrieved; its workers still get reasons
        d = _load_partition(run_dir, part, cfg)
        d.pairs = {
            "pj": np.zeros(0, np.int64),
            "pw": np.zeros(0, np.int64),
            "batch": build_pairs(
                d.J_own,
                d.W,
                np.zeros(0, np.int64),
                np.zeros(0, np.int64),
                history=d.H,
                asof_s=cfg["asof"],
                max_km=cfg["max_km"],
            ),
            "eligible": np.zeros(0, bool),
            "usable": np.zeros(0, bool),
            "weight": np.zeros(0),
            "round": 0,
        }
    return _explain_task(run_dir, part, cfg, per_slot, round_no)


def _write_report(out: Path, summary: dict, agg: dict) -> None:
    """``report.html`` from the aggregates: the summary, the distance histogram, reasons, partitions."""
    import html

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from matcher.report import _png

    figs = []
    if len(agg.get("distance_km", [])):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.hist(agg["distance_km"], bins=40, color="#1f77b4")
        ax.set_xlabel("distance job - worker (km)")
        ax.set_ylabel("assignments")
        figs.append(("Distance", _png(fig)))
        rng = np.random.default_rng(0)
        k = rng.choice(len(agg["distance_km"]), min(len(agg["distance_km"]), 5000), replace=False)
        fig, ax = plt.subplots(figsize=(7, 6))
        ax.scatter(
            np.round(agg["a_worker_lon"][k], 2),
            np.round(agg["a_worker_lat"][k], 2),
            s=2,
            c="#bbbbbb",
            label="assigned workers (sample, ~1 km)",
        )
        ax.scatter(agg["a_job_lon"][k], agg["a_job_lat"][k], s=4, c="#d62728", label="their jobs")
        ax.legend(loc="upper right", fontsize=8)
        figs.append(("Map", _png(fig)))
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.5))
    fig.subplots_adjust(wspace=0.8)
    for ax, (title, counts) in zip(
        axes,
        (
            ("Unfilled jobs by reason", summary["unfilled_reasons"]),
            ("Unmatched workers by reason", summary["unmatched_reasons"]),
        ),
        strict=True,
    ):
        items = sorted(counts.items(), key=lambda kv: kv[1])
        ax.barh([k for k, _ in items], [v for _, v in items], color="#ff7f0e")
        ax.set_title(title)
    figs.append(("Reasons", _png(fig)))
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in summary.items()
        if k not in ("partitions", "reconciliation")
    )
    prow = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(e[c]))}</td>" for c in e) + "</tr>"
        for e in summary["partitions"]
    )
    phead = "".join(
        f"<th>{html.escape(c)}</th>" for c in (summary["partitions"][0] if summary["partitions"] else {})
    )
    body = "".join(f"<h2>{t}</h2><img src='{src}' alt='{t}'>" for t, src in figs)
    (out / "report.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>gigmatch assignment report</title>"
        "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}td{padding-right:1em}img{max-width:100%}</style>"
        f"</head><body><h1>gigmatch assignment report (partitioned)</h1><table>{rows}</table>{body}"
        f"<h2>Partitions</h2><table><tr>{phead}</tr>{prow}</table>"
        f"<h2>Reconciliation</h2><pre>{html.escape(json.dumps(summary['reconciliation'], indent=1, default=str))}</pre></body></html>",
        encoding="utf-8",
    )
