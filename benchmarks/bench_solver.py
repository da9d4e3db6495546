"""Solver benchmark: gigmatch's solve_assignment against OR-Tools and scipy in the same run.

1. A random geometric b-matching: 100,000 workers and 10,000 jobs in a 60 km square, headcounts 1-5,
   each job's candidates are the workers within its radius (about 1,000,000 edges), sorted by
   (job, worker) as gigmatch's retrieval emits them. Compared with
   OR-Tools' SimpleMinCostFlow on the same graph (the textbook formulation, no decomposition).
   Then the default ``fill`` objective on the same graph: pruned with its lexicographic certificate,
   against the same solver unpruned (the whole graph in OR-Tools' max-flow-with-min-cost mode), and
   against ``weight`` (pruned) as the yardstick issue #18 sets ("fill as fast as weight").
2. Dense n x n assignment (default 2,000): compared with scipy.optimize.linear_sum_assignment.

Prints wall time, the ratio, objective agreement and peak memory (tracemalloc over numpy + our code;
OR-Tools' C++ heap is not traced). Usage: python benchmarks/bench_solver.py [--workers N --jobs N --dense N]
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.neighbors import KDTree

from matcher import solve_assignment
from matcher.solver import integer_costs


def geometric_instance(n_workers: int, n_jobs: int, target_edges: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    side = 60.0
    wxy = rng.random((n_workers, 2)) * side
    jxy = rng.random((n_jobs, 2)) * side
    radius = np.sqrt(target_edges / n_jobs / n_workers * side * side / np.pi)
    nbrs = KDTree(wxy).query_radius(jxy, r=radius, return_distance=True)
    job = np.repeat(np.arange(n_jobs), [len(n) for n in nbrs[0]])
    worker = np.concatenate(nbrs[0])
    dist = np.concatenate(nbrs[1])
    weight = np.round(1.0 - dist / radius + 0.5 * rng.random(len(job)), 4)
    job_capacity = rng.integers(1, 6, n_jobs)
    # edges sorted by (job, worker), as CandidateRetriever emits them; both solvers get the same arrays
    order = np.lexsort((worker, job))
    return job[order], worker[order], weight[order], job_capacity, radius


def ortools_reference(job, worker, weight, job_capacity, n_workers):
    """Plain SimpleMinCostFlow on the whole graph with the same integer costs as ours."""
    from ortools.graph.python import min_cost_flow

    n_j = len(job_capacity)
    keep = weight > 0
    j, w, c = job[keep], worker[keep], integer_costs(weight[keep])[0]
    s, t = n_j + n_workers, n_j + n_workers + 1
    supply = int(job_capacity.sum())
    tails = np.r_[np.full(n_j, s), j, n_j + np.arange(n_workers), s]
    heads = np.r_[np.arange(n_j), n_j + w, np.full(n_workers, t), t]
    caps = np.r_[job_capacity, np.ones(len(j), np.int64), np.ones(n_workers, np.int64), supply]
    costs = np.r_[np.zeros(n_j, np.int64), c, np.zeros(n_workers, np.int64), 0]
    mcf = min_cost_flow.SimpleMinCostFlow()
    arcs = mcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    mcf.set_nodes_supplies(np.array([s, t]), np.array([supply, -supply]))
    assert mcf.solve() == mcf.OPTIMAL
    chosen = np.zeros(len(job), bool)
    chosen[np.flatnonzero(keep)] = mcf.flows(arcs[n_j : n_j + len(j)]) > 0
    return chosen


def timed(fn, *args, repeat=3, **kwargs):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        times.append(time.perf_counter() - t)
    return out, float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--dense", type=int, default=2_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {platform.machine()} {platform.processor() or ''}, python {platform.python_version()}")

    job, worker, weight, cap, radius = geometric_instance(args.workers, args.jobs, args.edges)
    print(
        f"\ngeometric: {args.workers} workers, {args.jobs} jobs, {len(job)} edges, {int(cap.sum())} slots, radius {radius:.2f} km"
    )
    tracemalloc.start()
    ours, t_ours = timed(
        solve_assignment,
        job,
        worker,
        weight,
        cap,
        np.ones(args.workers, np.int64),
        "weight",  # as the reference: maximise total weight
        repeat=args.repeat,
    )
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    ref, t_ref = timed(ortools_reference, job, worker, weight, cap, args.workers, repeat=args.repeat)
    print(
        f"  gigmatch solve_assignment : {t_ours:7.3f} s  total weight {weight[ours].sum():.4f}  filled {ours.sum()}  peak {peak:.0f} MiB"
    )
    print(
        f"  OR-Tools SimpleMinCostFlow: {t_ref:7.3f} s  total weight {weight[ref].sum():.4f}  filled {ref.sum()}"
    )
    print(
        f"  ratio gigmatch / OR-Tools : {t_ours / t_ref:.2f}   same optimum: {abs(weight[ours].sum() - weight[ref].sum()) < 1e-6}"
    )

    import matcher.solver as solver_mod

    fill, t_fill = timed(solve_assignment, job, worker, weight, cap, 1, "fill", repeat=args.repeat)
    saved = solver_mod.PRUNE_MIN_EDGES
    solver_mod.PRUNE_MIN_EDGES = 10**12  # no pruning: the whole graph in one max-flow-with-min-cost solve
    try:
        full, t_full = timed(solve_assignment, job, worker, weight, cap, 1, "fill", repeat=args.repeat)
    finally:
        solver_mod.PRUNE_MIN_EDGES = saved
    costs = integer_costs(weight)[0]
    print("\nfill objective (most slots, then best weight), same graph:")
    print(
        f"  fill, pruned + lexicographic certificate: {t_fill:7.3f} s  filled {fill.sum()}  weight {weight[fill].sum():.4f}"
    )
    print(
        f"  fill, unpruned (whole graph)            : {t_full:7.3f} s  filled {full.sum()}  weight {weight[full].sum():.4f}"
    )
    print(f"  weight, pruned (from above)             : {t_ours:7.3f} s")
    print(
        f"  ratio pruned / unpruned fill: {t_fill / t_full:.2f}   pruned fill / weight: {t_fill / t_ours:.2f}   "
        f"same optimum: {fill.sum() == full.sum() and costs[fill].sum() == costs[full].sum()}"
    )

    rng = np.random.default_rng(1)
    n = args.dense
    cost = rng.integers(1, 101, (n, n)).astype(float)
    i, j = np.nonzero(np.ones((n, n), bool))
    ours, t_ours = timed(
        solve_assignment, i, j, 101.0 - cost.ravel(), np.ones(n, np.int64), 1, "fill", repeat=args.repeat
    )
    (r, c), t_lsa = timed(linear_sum_assignment, cost, repeat=args.repeat)
    print(f"\ndense {n} x {n}:")
    print(f"  gigmatch solve_assignment    : {t_ours:7.3f} s  cost {int(cost.ravel()[ours].sum())}")
    print(f"  scipy linear_sum_assignment  : {t_lsa:7.3f} s  cost {int(cost[r, c].sum())}")
    print(f"  ratio gigmatch / scipy       : {t_ours / t_lsa:.2f}")


if __name__ == "__main__":
    main()
