"""Exact b-matching of jobs (with headcounts) to workers over sparse candidate edges.

:func:`solve_assignment` is the one public entry point. It validates its arrays once, then:

1. drops edges that can never be chosen (zero capacities, and those the objective rules out:
   ``weight <= 0`` under ``objective="weight"``, see :meth:`matcher.objectives.Objective.choosable`);
2. splits the bipartite edge graph into connected components (``scipy.sparse.csgraph``);
3. solves *star* components (one job, or one worker) exactly in closed form, vectorised: the centre
   takes its ``capacity`` best edges;
4. solves small dense components with unit worker capacity by ``scipy.optimize.linear_sum_assignment``
   on the slot-expanded matrix;
5. solves everything else as a min-cost flow with OR-Tools' ``SimpleMinCostFlow`` (cost scaling,
   capacities native), in chunks of whole components. A large chunk, under an objective that allows
   it (``objective="weight"``: :attr:`matcher.objectives.Objective.prune`), is first solved on each
   job's best few edges only, and the result is proved optimal for all edges with a dual (node
   potential) certificate, adding the edges that fail it until none does (:func:`_solve_mcf_pruned`);
   on the benchmark's 1M-edge graph this solves about 85k edges, three times, instead of 1M once.

Steps 3-5 are exact, so the result is a proven optimum. OR-Tools needs integer costs
(:func:`integer_costs`): weights on a decimal grid of up to 9 places are scaled exactly; other weights are scaled so the largest
magnitude becomes 2**30 and rounded, and the result is then within ``n_slots * max|w| * 2**-31`` of
the real-valued optimum.

Steps 4 and 5 work on :class:`Subproblem` objects, self-contained and picklable, and ask the problem's
:class:`~matcher.objectives.Objective` (:mod:`matcher.objectives`) what to do wherever the objectives
differ.

Ties are broken deterministically: the result does not depend on the order edges are given in, and
the subproblems of steps 4 and 5 are the same whether solved here or on a Dask cluster (pass
``client=`` to :func:`solve_assignment`: it maps :func:`_solve_task` over them with ``client.map``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from ortools.graph.python import min_cost_flow
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components

from matcher.objectives import DEFAULT_OBJECTIVE, Objective, get_objective

COST_SCALE_BITS = 30
CHUNK_EDGES = 250_000  # step 5 packs whole components into chunks of about this many edges
DENSE_MAX_CELLS = 16_000_000  # step 4 when slots x workers is at most this ...
DENSE_MIN_DENSITY = 0.25  # ... and at least this share of the cells are edges
# ComponentFlows solves changed components in chunks of about this many edges: OR-Tools' time grows
# faster than the graph, even over disjoint components (a 2.66M-edge reconciliation core of 820
# components, measured: one call 9.7 s, chunks of 250,000 edges 6.8 s, of 60,000 3.4 s, of 15,000 3.2 s)
COMPONENT_CHUNK_EDGES = 15_000
PRUNE_MIN_EDGES = 50_000  # step 5 solves subproblems this big on a pruned graph first (Objective.prune) ...
PRUNE_MAX_ROUNDS = 6  # ... and falls back to the full graph after this many rounds without proof


@dataclass
class Problem:
    """A validated problem in canonical edge order (sorted by job, then worker), from :func:`validate_problem`.

    Attributes
    ----------
    job, worker : int64 arrays of shape (E,)
        The edges' job and worker indices, sorted by job, then worker; no (job, worker) pair twice.
    weight : float64 array of shape (E,)
        Match value of each edge, finite.
    job_capacity : int64 array of shape (n_jobs,)
        Headcount (slots) per job, >= 0.
    worker_capacity : int64 array of shape (n_workers,)
        Jobs each worker may take, >= 0.
    objective : Objective
        What an optimum maximises (:mod:`matcher.objectives`).
    order : int64 array of shape (E,)
        Canonical position -> the caller's edge index.
    """

    job: np.ndarray
    worker: np.ndarray
    weight: np.ndarray
    job_capacity: np.ndarray
    worker_capacity: np.ndarray
    objective: Objective
    order: np.ndarray

    @property
    def n_jobs(self) -> int:
        """Number of jobs, ``len(job_capacity)``."""
        return len(self.job_capacity)

    @property
    def n_workers(self) -> int:
        """Number of workers, ``len(worker_capacity)``."""
        return len(self.worker_capacity)


@dataclass
class Subproblem:
    """A self-contained part of a :class:`Problem` for one solver (steps 4 and 5), picklable for Dask.

    Jobs and workers are renumbered locally (``0 .. n_jobs - 1`` in ascending order of their index in
    the problem, likewise workers); edges keep the problem's canonical order.

    Attributes
    ----------
    method : {"lsa", "mcf"}
        ``"lsa"``: dense slot-expanded ``linear_sum_assignment`` (unit worker capacity);
        ``"mcf"``: OR-Tools min-cost flow.
    edges : int64 array of shape (E_s,)
        Positions of the subproblem's edges among the problem's (canonical) edges.
    job, worker : int64 arrays of shape (E_s,)
        Local job and worker index of each edge.
    weight : float64 array of shape (E_s,)
        Match value of each edge.
    job_capacity : int64 array of shape (n_jobs,)
        Headcount of each local job.
    worker_capacity : int64 array of shape (n_workers,)
        Capacity of each local worker.
    objective : Objective
        The problem's objective.
    """

    method: Literal["lsa", "mcf"]
    edges: np.ndarray
    job: np.ndarray
    worker: np.ndarray
    weight: np.ndarray
    job_capacity: np.ndarray
    worker_capacity: np.ndarray
    objective: Objective


def _int_array(name: str, value, ndim: int = 1) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if (
            np.issubdtype(arr.dtype, np.floating)
            and np.all(np.isfinite(arr))
            and np.all(arr == np.round(arr))
        ):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def validate_problem(
    job, worker, weight, job_capacity, worker_capacity=1, objective: str = DEFAULT_OBJECTIVE
) -> Problem:
    """Check the arrays of :func:`solve_assignment` and return them in canonical order.

    Parameters
    ----------
    job, worker, weight, job_capacity, worker_capacity, objective
        As for :func:`solve_assignment`.

    Returns
    -------
    Problem
        Int64 indices and capacities, float64 weights, edges sorted by (job, worker), the objective
        resolved by :func:`matcher.objectives.get_objective`.

    Raises
    ------
    ValueError
        Naming the argument: wrong shape or dtype, mismatched lengths, negative capacity, non-finite
        weight, index out of range, duplicate (job, worker) edge, unknown objective.
    """
    goal = get_objective(objective)
    job = _int_array("job", job)
    worker = _int_array("worker", worker)
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 1:
        raise ValueError(f"weight must be a 1-D array, got shape {weight.shape}")
    if not (len(job) == len(worker) == len(weight)):
        raise ValueError(
            f"job, worker and weight must have the same length, got {len(job)}, {len(worker)}, {len(weight)}"
        )
    if not np.all(np.isfinite(weight)):
        bad = int(np.flatnonzero(~np.isfinite(weight))[0])
        raise ValueError(f"weight must be finite; weight[{bad}] is {weight[bad]}")
    job_capacity = _int_array("job_capacity", job_capacity)
    if np.any(job_capacity < 0):
        raise ValueError(
            f"job_capacity must be >= 0; job_capacity[{int(np.argmin(job_capacity))}] is {job_capacity.min()}"
        )
    if np.ndim(worker_capacity) == 0:
        cap = int(_int_array("worker_capacity", [worker_capacity])[0])
        if cap < 0:
            raise ValueError(f"worker_capacity must be >= 0, got {cap}")
        n_workers = int(worker.max()) + 1 if len(worker) else 0
        worker_capacity = np.full(n_workers, cap, dtype=np.int64)
    else:
        worker_capacity = _int_array("worker_capacity", worker_capacity)
        if np.any(worker_capacity < 0):
            i = int(np.argmin(worker_capacity))
            raise ValueError(f"worker_capacity must be >= 0; worker_capacity[{i}] is {worker_capacity[i]}")
    for name, idx, n in (("job", job, len(job_capacity)), ("worker", worker, len(worker_capacity))):
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            bad = int(np.flatnonzero((idx < 0) | (idx >= n))[0])
            raise ValueError(f"{name}[{bad}] = {idx[bad]} is out of range [0, {n})")
    key = job * max(len(worker_capacity), 1) + worker
    if len(key) < 2 or bool(np.all(key[1:] > key[:-1])):  # already canonical (retrieval emits this)
        order = np.arange(len(key))
    else:
        order = np.argsort(key, kind="stable")
    job, worker, weight = job[order], worker[order], weight[order]
    dup = (job[1:] == job[:-1]) & (worker[1:] == worker[:-1])
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise ValueError(f"duplicate edge: job {job[i]} and worker {worker[i]} appear twice in job/worker")
    return Problem(job, worker, weight, job_capacity, worker_capacity, goal, order)


def solve_assignment(
    job, worker, weight, job_capacity, worker_capacity=1, objective: str = DEFAULT_OBJECTIVE, *, client=None
) -> np.ndarray:
    """Choose edges so that every capacity holds and the objective is optimal.

    Parameters
    ----------
    job, worker : int arrays of shape (E,)
        Candidate edges; pairs not listed are forbidden.
    weight : float array of shape (E,)
        Match value, higher is better.
    job_capacity : int array of shape (n_jobs,)
        Headcount (slots) per job.
    worker_capacity : int or int array of shape (n_workers,), default=1
        Jobs a worker may take in this batch. As an int, ``n_workers = max(worker) + 1``.
    objective : str, default=``DEFAULT_OBJECTIVE`` (``"fill"``)
        A name from :data:`matcher.objectives.OBJECTIVES`:
        ``"fill"``: maximise the number of filled slots, then total weight among those;
        ``"weight"``: maximise total weight; edges with ``weight <= 0`` are never chosen.
    client : dask.distributed.Client, optional
        Solve the dense and min-cost-flow subproblems on a Dask cluster; the result is identical.

    Returns
    -------
    chosen : bool array of shape (E,)
        True for the chosen edges, in the caller's edge order.

    Raises
    ------
    ValueError
        From :func:`validate_problem`, naming the bad argument.
    """
    problem = validate_problem(job, worker, weight, job_capacity, worker_capacity, objective)
    chosen_canonical = _solve(problem, client=client)
    chosen = np.zeros(len(problem.order), dtype=bool)
    chosen[problem.order] = chosen_canonical
    return chosen


def _solve(p: Problem, client=None) -> np.ndarray:
    E = len(p.job)
    chosen = np.zeros(E, dtype=bool)
    live = (p.job_capacity[p.job] > 0) & (p.worker_capacity[p.worker] > 0)
    choosable = p.objective.choosable(p.weight)
    if choosable is not None:
        live &= choosable
    idx = np.flatnonzero(live)
    if len(idx) == 0:
        return chosen
    j, w, wt = p.job[idx], p.worker[idx], p.weight[idx]
    n_j, n_w = p.n_jobs, p.n_workers
    job_used = np.bincount(j, minlength=n_j) > 0
    worker_used = np.bincount(w, minlength=n_w) > 0
    if len(idx) == int(job_used.sum()) * int(worker_used.sum()):
        # complete bipartite on the nodes it uses (a dense problem): one component, no graph search
        label = np.zeros(n_j + n_w, dtype=np.int64)
    else:
        graph = sp.csr_matrix((np.ones(len(idx)), (j, n_j + w)), shape=(n_j + n_w, n_j + n_w))
        _, label = connected_components(graph, directed=False)
    comp = label[j]
    n_comp = int(label.max()) + 1
    jobs_in = np.bincount(label[:n_j][job_used], minlength=n_comp)
    workers_in = np.bincount(label[n_j:][worker_used], minlength=n_comp)

    # 3. stars: one job (its best edges, up to its headcount) or one worker (its best, up to capacity)
    star_job = jobs_in[comp] == 1
    star_worker = ~star_job & (workers_in[comp] == 1)
    for mask, centre_cap in ((star_job, p.job_capacity[j]), (star_worker, p.worker_capacity[w])):
        if mask.any():
            sel = np.flatnonzero(mask)
            rank = _rank_within(comp[sel], -wt[sel])
            chosen[idx[sel[rank < centre_cap[sel]]]] = True

    rest = np.flatnonzero(~star_job & ~star_worker)
    if len(rest) == 0:
        return chosen
    # 4./5. the remaining components, grouped; edges stay in canonical order inside each group
    rest_comp = comp[rest]
    if n_comp > 1:
        order = np.argsort(rest_comp, kind="stable")
        rest, rest_comp = rest[order], rest_comp[order]
    bounds = np.flatnonzero(np.r_[True, rest_comp[1:] != rest_comp[:-1], True])
    slots_in = np.bincount(label[:n_j], weights=p.job_capacity * job_used, minlength=n_comp)
    tasks = _plan(p, idx, rest, bounds, rest_comp, slots_in, workers_in)
    if client is not None:
        futures = client.map(_solve_task, tasks, pure=False)
        results = client.gather(futures)
    else:
        results = [_solve_task(t) for t in tasks]
    for task, picked in zip(tasks, results, strict=True):
        chosen[task.edges[picked]] = True
    return chosen


def _rank_within(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """0-based rank of each element within its group by ascending ``key`` (ties: input order)."""
    order = np.lexsort((np.arange(len(group)), key, group))
    g = group[order]
    start = np.maximum.accumulate(np.where(np.r_[True, g[1:] != g[:-1]], np.arange(len(g)), 0))
    rank = np.empty(len(group), dtype=np.int64)
    rank[order] = np.arange(len(g)) - start
    return rank


def _plan(p: Problem, idx, rest, bounds, rest_comp, slots_in, workers_in) -> list[Subproblem]:
    """Cut the non-star components into solver tasks: dense LSA ones, and min-cost-flow chunks."""
    starts, ends = bounds[:-1], bounds[1:]
    comps = rest_comp[starts]
    n_edges = ends - starts
    e_all = idx[rest]
    # slot-expanded cells an edge fills, summed per component
    filled_cells = np.add.reduceat(p.job_capacity[p.job[e_all]], starts) if len(starts) else np.zeros(0)
    unit_workers = (
        np.add.reduceat((p.worker_capacity[p.worker[e_all]] == 1).astype(np.int64), starts) == n_edges
    )
    cells = slots_in[comps] * workers_in[comps]
    dense = unit_workers & (cells <= DENSE_MAX_CELLS) & (filled_cells >= DENSE_MIN_DENSITY * cells)
    tasks = [_task(p, idx[rest[a:b]], "lsa") for a, b in zip(starts[dense], ends[dense], strict=True)]
    # min-cost flow: consecutive sparse components packed into chunks of about CHUNK_EDGES edges
    sparse_sel = np.flatnonzero(~dense)
    if len(sparse_sel):
        sizes = n_edges[sparse_sel]
        chunk_id = (np.cumsum(sizes) - sizes) // CHUNK_EDGES
        for c in np.unique(chunk_id):
            members = sparse_sel[chunk_id == c]
            edges = (
                np.concatenate([rest[starts[m] : ends[m]] for m in members])
                if len(members) > 1
                else rest[starts[members[0]] : ends[members[0]]]
            )
            tasks.append(_task(p, idx[edges], "mcf"))
    return tasks


def _task(p: Problem, edges: np.ndarray, method: Literal["lsa", "mcf"]) -> Subproblem:
    """The :class:`Subproblem` over ``edges`` (canonical positions): local indices, capacities, weights."""
    jobs_u, j_loc = _relabel(p.job[edges], p.n_jobs)
    workers_u, w_loc = _relabel(p.worker[edges], p.n_workers)
    return Subproblem(
        method=method,
        edges=edges,
        job=j_loc,
        worker=w_loc,
        weight=p.weight[edges],
        job_capacity=p.job_capacity[jobs_u],
        worker_capacity=p.worker_capacity[workers_u],
        objective=p.objective,
    )


def _relabel(values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, each value's position among them) in O(n + len(values)), no sort."""
    used = np.zeros(n, dtype=bool)
    used[values] = True
    position = np.cumsum(used) - 1
    return np.flatnonzero(used), position[values]


def _solve_task(task: Subproblem) -> np.ndarray:
    """Solve one subproblem; returns the positions (into ``task.edges``) of the chosen edges, ascending."""
    if task.method == "lsa":
        return _solve_lsa(task)
    return _solve_mcf(task)


def _solve_lsa(t: Subproblem) -> np.ndarray:
    """Dense slot-expanded assignment (unit worker capacity), exact in floating point."""
    cap = t.job_capacity
    slot_start = np.r_[0, np.cumsum(cap)]
    n_slots, n_w = int(slot_start[-1]), len(t.worker_capacity)
    value = np.zeros((n_slots, n_w))
    edge_at = np.full((n_slots, n_w), -1, dtype=np.int64)
    reps = cap[t.job]
    if np.all(reps == 1):  # no slot expansion: each edge fills one cell
        e_rep, slot = np.arange(len(t.job)), slot_start[t.job]
    else:
        e_rep = np.repeat(np.arange(len(t.job)), reps)
        slot = np.repeat(slot_start[t.job], reps) + (
            np.arange(reps.sum()) - np.repeat(np.cumsum(reps) - reps, reps)
        )
    w = t.objective.dense_values(t.weight, n_slots, n_w)
    value[slot, t.worker[e_rep]] = w[e_rep]
    edge_at[slot, t.worker[e_rep]] = e_rep
    rows, cols = linear_sum_assignment(value, maximize=True)
    picked = edge_at[rows, cols]
    return t.objective.dense_keep(t.weight, picked[picked >= 0])


def integer_costs(weight: np.ndarray) -> tuple[np.ndarray, float]:
    """Integer costs for OR-Tools: ``-weight * scale`` rounded, and the scale.

    Weights on a decimal grid (up to 9 places, e.g. scores rounded to 4 decimals) get the smallest
    exact power-of-ten scale, so the optimum is exact and the cost range stays small (cost scaling runs
    in O(log(n * max cost)) phases). Other weights are scaled so that max|w| becomes 2**30.

    Parameters
    ----------
    weight : float array of shape (E,)
        Match values, finite.

    Returns
    -------
    cost : int64 array of shape (E,)
        ``-round(weight * scale)``: lower is better, as min-cost flow wants.
    scale : float
        Cost units per unit of weight.
    """
    top = float(np.abs(weight).max()) if len(weight) else 0.0
    scale = integer_scale(top, decimal_places(weight))
    return -np.round(weight * scale).astype(np.int64), scale


def decimal_places(weight: np.ndarray) -> int | None:
    """Fewest decimal places (0-9) on whose grid every weight lies, or None.

    With :func:`integer_scale` this splits :func:`integer_costs` so that parts of one problem computed
    apart (the partitions of :mod:`matcher.partition`) agree on one scale: the places of a union are
    the largest of the parts', its top the largest top.
    """
    if len(weight) == 0:
        return 0
    for digits in range(10):
        scaled = weight * 10.0**digits
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return digits
    return None


def integer_scale(top: float, places: int | None) -> float:
    """Cost units per unit of weight for weights of magnitude at most ``top`` on ``places`` decimals.

    ``10**places`` when that keeps ``top`` within 2**30, else ``2**30 / top``.
    """
    top = max(float(top), 1e-300)
    if places is not None and top * 10.0**places <= 2**COST_SCALE_BITS:
        return 10.0**places
    return float(2**COST_SCALE_BITS) / top


def _solve_mcf(t: Subproblem) -> np.ndarray:
    """Min-cost flow with OR-Tools; integer costs from :func:`integer_costs`.

    Tasks of at least ``PRUNE_MIN_EDGES`` edges go through :func:`_solve_mcf_pruned` first when the
    objective allows it (:attr:`matcher.objectives.Objective.prune`; both registered objectives do).
    """
    cost, _ = integer_costs(t.weight)  # once, over all edges: every pruned round and the full solve agree
    if t.objective.prune and len(t.job) >= PRUNE_MIN_EDGES:
        picked, _ = _solve_mcf_pruned(t, cost)
        if picked is not None:
            return picked
    net = _flow_network(t.job, t.worker, cost, t.job_capacity, t.worker_capacity)
    flows = net.solve(t.objective)
    return np.flatnonzero(flows[net.edge_arcs] > 0)


@dataclass
class Prices:
    """Dual values (node potentials) that certify a flow optimal, as lexicographic integer pairs.

    Every cost is a pair ``(major, minor)`` compared major first (:func:`certificate_costs`): under
    ``weight`` the major part is 0 and the minor part the integer cost; under ``fill`` each edge costs
    ``(-1, cost)``, so one more filled slot outweighs any weight. An edge ``(j, w)`` keeps the
    certificate when its reduced cost ``cost + p[j] - p[w]`` is not negative.

    Attributes
    ----------
    job_major, job_minor : int64 arrays of shape (n_jobs,)
        Potential of each job node.
    worker_major, worker_minor : int64 arrays of shape (n_workers,)
        Smallest potential each worker's own arcs allow (see :func:`solve_and_price`).
    """

    job_major: np.ndarray
    job_minor: np.ndarray
    worker_major: np.ndarray
    worker_minor: np.ndarray

    def violated(
        self, job: np.ndarray, worker: np.ndarray, major: np.ndarray, minor: np.ndarray
    ) -> np.ndarray:
        """Mask of the edges whose reduced cost is negative, i.e. that could improve the flow.

        Parameters
        ----------
        job, worker : int arrays of shape (E,)
            Edge ends, indices into the priced jobs and workers.
        major, minor : int64 arrays of shape (E,)
            The edges' certificate costs (:func:`certificate_costs`).

        Returns
        -------
        bool array of shape (E,)
        """
        r1 = major + self.job_major[job] - self.worker_major[worker]
        r2 = minor + self.job_minor[job] - self.worker_minor[worker]
        return (r1 < 0) | ((r1 == 0) & (r2 < 0))


def certificate_costs(cost: np.ndarray, objective: Objective) -> tuple[np.ndarray, np.ndarray]:
    """The lexicographic certificate costs ``(major, minor)`` of edges with integer costs ``cost``.

    Parameters
    ----------
    cost : int64 array of shape (E,)
        From :func:`integer_costs`.
    objective : Objective
        ``fill`` (:attr:`~matcher.objectives.Objective.cardinality_first`) gives every edge major cost
        -1, ``weight`` 0.

    Returns
    -------
    major, minor : int64 arrays of shape (E,)
    """
    major = np.full(len(cost), -1 if objective.cardinality_first else 0, dtype=np.int64)
    return major, np.asarray(cost, dtype=np.int64)


def solve_and_price(
    job: np.ndarray,
    worker: np.ndarray,
    cost: np.ndarray,
    job_capacity: np.ndarray,
    worker_capacity: np.ndarray,
    objective: Objective,
    cache: ComponentFlows | None = None,
    map_chunks=None,
) -> tuple[np.ndarray, Prices | None]:
    """Optimal flow over some edges, and the node potentials that prove it optimal for *other* edges too.

    OR-Tools solves the network (max-flow-with-min-cost mode under ``fill``, on the plain integer
    costs, so its cost-scaling phases stay few). Shortest distances in the residual graph, in the
    lexicographic certificate costs (:func:`certificate_costs`, with the bypass arc's residual flow
    under ``fill`` too), are potentials under which no residual arc has a negative reduced cost. Each
    worker then takes the smallest potential its own arcs allow (the sink's if it has spare capacity,
    ``cost + p[job]`` over the edges it took), which keeps every reduced cost non-negative and gives
    edges left out the most room. An edge left out whose reduced cost is non-negative
    (:meth:`Prices.violated` false) cannot improve the flow; if that holds for every edge of a larger
    graph, the residual graph of the larger problem has no negative cycle, so the flow is optimal
    there: the LP duality certificate, checked edge by edge (vectorised, or partition by partition).

    Parameters
    ----------
    job, worker : int64 arrays of shape (E,)
        The edges solved, indices into ``job_capacity`` and ``worker_capacity``.
    cost : int64 array of shape (E,)
        Integer costs (:func:`integer_costs`; the same scale as every edge the prices will check).
    job_capacity, worker_capacity : int64 arrays of shape (n_jobs,), (n_workers,)
    objective : Objective
    cache : ComponentFlows, optional
        Solve connected component by component and re-solve only the components that changed since
        the cache's last call (a pricing loop that adds a few edges per round), each with its
        potentials (:class:`ComponentFlows`).
    map_chunks : callable, optional
        With ``cache``: how the changed components are solved (:meth:`ComponentFlows.solve`).

    Returns
    -------
    (taken, prices) : bool array of shape (E,) (the optimal flow's edges) and :class:`Prices`, or None
    when the shortest-distance search does not settle (the caller then solves without pruning).
    """
    n_j, n_w = len(job_capacity), len(worker_capacity)
    major_e, _ = certificate_costs(cost, objective)
    if cache is None:
        net = _subgraph_network(job, worker, cost, job_capacity, worker_capacity)
        flows = net.solve(objective)
        taken = flows[net.edge_arcs] > 0
        major = np.zeros(len(net.cost), dtype=np.int64)
        major[net.edge_arcs] = major_e
        potential = _node_potentials(net, flows, major)
        if potential is None:
            return taken, None
        p1, p2 = potential
        sink1, sink2 = p1[-1], p2[-1]
    else:
        taken, p1, p2 = cache.solve(job, worker, cost, job_capacity, worker_capacity, objective, map_chunks)
        if p1 is None:
            return taken, None
        sink1 = sink2 = 0  # the components' potentials are shifted to source = sink = 0
    low = np.iinfo(np.int64).min // 4
    spare = np.bincount(worker[taken], minlength=n_w) < worker_capacity
    wp1 = np.where(spare, sink1, low)
    wp2 = np.where(spare, sink2, 0)
    if taken.any():  # each worker: the lexicographic largest lower bound its taken edges set
        tw = worker[taken]
        v1 = major_e[taken] + p1[job[taken]]
        v2 = cost[taken] + p2[job[taken]]
        order = np.lexsort((v2, v1, tw))
        last = order[np.r_[tw[order][1:] != tw[order][:-1], True]]
        w_sel, a, b = tw[last], v1[last], v2[last]
        higher = (a > wp1[w_sel]) | ((a == wp1[w_sel]) & (b > wp2[w_sel]))
        wp1[w_sel[higher]] = a[higher]
        wp2[w_sel[higher]] = b[higher]
    return taken, Prices(p1[:n_j].copy(), p2[:n_j].copy(), wp1, wp2)


class ComponentFlows:
    """Optimal flows of a growing graph's connected components, kept from one solve to the next.

    A pricing loop (:func:`solve_and_price` in :mod:`matcher.partition`'s reconciliation) solves a
    graph, adds the few edges that fail the certificate, and solves again: most connected components
    have not changed, and their optimal flow is still optimal. :meth:`solve` splits the graph into
    connected components (``scipy.sparse.csgraph``), recognises a component it solved last time by a
    fingerprint of its content (every edge's job, worker, integer cost and both ends' capacities,
    hashed and summed, so edge order does not matter; with the edge count), reuses that flow, and
    solves only the new or changed components (OR-Tools, whole components packed into chunks of about
    ``CHUNK_EDGES`` edges).

    Each component's node potentials (the shortest distances of :func:`_node_potentials` in its own
    residual graph, with the source and the sink tied by zero-cost arcs both ways, then shifted so
    that both are 0) are kept beside its flow: the union of the components' potentials is a
    certificate for the whole graph, as one search over it would give, and only the new components
    are searched.

    Why the union is optimal: the components share only the source and the sink. Under ``fill`` each
    component's flow is a maximum flow (no augmenting path inside it) and the cheapest among those;
    a residual cycle through the source and the sink would need an augmenting path in one component.
    Under ``weight`` every residual source-sink path of one component costs at least 0 (else that
    component would take it) and every flow path of another at most 0 (else it would take the
    bypass), so no cycle through both is negative. For the same reasons no residual path from the
    source to the sink costs less than 0 in any component, so tying them (equal potentials) creates
    no negative cycle: every component's potentials can take source = sink = 0, and then they agree
    on the only nodes the components share. A search that does not settle (it would not, were a
    flow not optimal) makes :meth:`solve` return no potentials, and the caller solves without this.

    Two different components share a fingerprint with probability about ``k**2 / 2**65`` for ``k``
    components (~1e-13 at a province's ~800); a reused flow that breaks a capacity makes the call
    forget every kept flow and solve afresh.

    Attributes
    ----------
    solved_edges, reused_edges : int
        Edges of the components solved, and of those reused, over all calls.
    """

    def __init__(self) -> None:
        # fingerprint -> (flow of the component's edges, potentials of its jobs: major, minor)
        self._flows: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self.solved_edges = 0
        self.reused_edges = 0

    def solve(
        self,
        job: np.ndarray,
        worker: np.ndarray,
        cost: np.ndarray,
        job_capacity: np.ndarray,
        worker_capacity: np.ndarray,
        objective: Objective,
        map_chunks=None,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The optimal flow and its job potentials; arguments as :func:`solve_and_price`.

        ``map_chunks`` (``(fn, calls) -> [fn(*call) for call in calls]``, results in order of the
        calls) solves the changed components' chunks (:func:`solve_component_chunk`)
        elsewhere, e.g. on a Dask cluster's workers; by default they are solved here in turn.

        Returns
        -------
        (taken, major, minor) : bool array of shape (E,), and int64 arrays of shape (n_jobs,): each
        job's potential (0 for a job without edges, as for the source), or None for both when a
        component's search does not settle.
        """
        n_j, n_w, E = len(job_capacity), len(worker_capacity), len(job)
        taken = np.zeros(E, dtype=bool)
        p1, p2 = np.zeros(n_j, dtype=np.int64), np.zeros(n_j, dtype=np.int64)
        if E == 0:
            self._flows = {}
            return taken, p1, p2
        graph = sp.csr_matrix((np.ones(E), (job, n_j + worker)), shape=(n_j + n_w, n_j + n_w))
        _, label = connected_components(graph, directed=False)
        comp = label[job]
        # each component's jobs, ascending (the order its potentials are kept in)
        has_edge = np.bincount(job, minlength=n_j) > 0
        jobs_in = np.flatnonzero(has_edge)
        jobs_in = jobs_in[np.argsort(label[jobs_in], kind="stable")]
        key = job.astype(np.int64) * np.int64(max(n_w, 1)) + worker
        order = np.lexsort((key, comp))  # components in turn, each in one canonical edge order
        c_sorted = comp[order]
        starts = np.flatnonzero(np.r_[True, c_sorted[1:] != c_sorted[:-1]])
        ends = np.r_[starts[1:], E]
        mix = _mix64(
            _mix64(
                key.astype(np.uint64)
                ^ (cost.astype(np.int64).view(np.uint64) * np.uint64(0x9E3779B97F4A7C15))
            )
            ^ (job_capacity[job].astype(np.uint64) << np.uint64(40))
            ^ (worker_capacity[worker].astype(np.uint64) << np.uint64(20))
        )
        with np.errstate(over="ignore"):
            prints = np.add.reduceat(mix[order], starts)
        job_label = label[jobs_in]
        seg_comp = c_sorted[starts]
        j_lo = np.searchsorted(job_label, seg_comp, side="left")
        j_hi = np.searchsorted(job_label, seg_comp, side="right")
        kept: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        dirty = []
        for i, (a, b, fp) in enumerate(zip(starts.tolist(), ends.tolist(), prints.tolist(), strict=True)):
            name = (fp, b - a)
            found = self._flows.get(name)
            if found is None:
                dirty.append((i, name))
            else:
                flow, q1, q2 = found
                taken[order[a:b]] = flow
                jobs_c = jobs_in[j_lo[i] : j_hi[i]]
                p1[jobs_c], p2[jobs_c] = q1, q2
                kept[name] = found
                self.reused_edges += b - a
        # the changed components, whole, in chunks of about CHUNK_EDGES edges: one OR-Tools call each
        # the changed components, whole, in chunks of about COMPONENT_CHUNK_EDGES: one OR-Tools call each
        chunks: list[list] = [[]]
        size = 0
        for i, name in dirty:
            if size >= COMPONENT_CHUNK_EDGES:
                chunks.append([])
                size = 0
            chunks[-1].append((i, name))
            size += int(ends[i] - starts[i])
        calls, chunk_edges = [], []
        chunks = chunks if dirty else []
        for chunk in chunks:
            edges = np.concatenate([order[starts[i] : ends[i]] for i, _ in chunk])
            jobs_u, j_loc = _relabel(job[edges], n_j)
            workers_u, w_loc = _relabel(worker[edges], n_w)
            calls.append(
                (j_loc, w_loc, cost[edges], job_capacity[jobs_u], worker_capacity[workers_u], objective)
            )
            chunk_edges.append((edges, jobs_u))
        # one task per about CHUNK_EDGES edges of chunks: few round trips when the chunks go elsewhere
        batches: list[list] = []
        size = CHUNK_EDGES
        for call in calls:
            if size >= CHUNK_EDGES:
                batches.append([])
                size = 0
            batches[-1].append(call)
            size += len(call[0])
        results = [
            r
            for got in (map_chunks or _map_here)(solve_component_chunks, [(b,) for b in batches])
            for r in got
        ]
        ok = True
        for chunk, (edges, jobs_u), (got, q1, q2) in zip(chunks, chunk_edges, results, strict=True):
            taken[edges] = got
            if q1 is None:
                ok = False
                continue
            p1[jobs_u], p2[jobs_u] = q1, q2
            at = 0
            for i, name in chunk:
                n_e = int(ends[i] - starts[i])
                jobs_c = jobs_in[j_lo[i] : j_hi[i]]
                kept[name] = (got[at : at + n_e], p1[jobs_c].copy(), p2[jobs_c].copy())
                at += n_e
            self.solved_edges += len(edges)
        self._flows = kept  # only this graph's components: a later call reuses what is unchanged since
        over = (np.bincount(job[taken], minlength=n_j) > job_capacity).any() or (
            np.bincount(worker[taken], minlength=n_w) > worker_capacity
        ).any()
        if over:  # a fingerprint collision (~1e-12 per call) reused a flow: forget it all, solve afresh
            self._flows = {}
            return self.solve(job, worker, cost, job_capacity, worker_capacity, objective, map_chunks)
        return (taken, p1, p2) if ok else (taken, None, None)


def solve_component_chunk(
    job: np.ndarray,
    worker: np.ndarray,
    cost: np.ndarray,
    job_capacity: np.ndarray,
    worker_capacity: np.ndarray,
    objective: Objective,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Optimal flow of whole connected components, and their jobs' potentials (:class:`ComponentFlows`).

    Parameters
    ----------
    job, worker : int64 arrays of shape (E,)
        Local indices (every job and worker has an edge).
    cost : int64 array of shape (E,)
    job_capacity, worker_capacity : int64 arrays of shape (n_jobs,), (n_workers,)
    objective : Objective

    Returns
    -------
    (taken, major, minor) : bool array of shape (E,) and the jobs' potentials, int64 arrays of shape
    (n_jobs,), with the source and the sink at 0 (None for both if the search does not settle).
    """
    net = _subgraph_network(job, worker, cost, job_capacity, worker_capacity)
    flows = net.solve(objective)
    taken = flows[net.edge_arcs] > 0
    major = np.zeros(len(net.cost), dtype=np.int64)
    major[net.edge_arcs] = certificate_costs(cost, objective)[0]
    potential = _node_potentials(net, flows, major, tie_source_sink=True)
    if potential is None:
        return taken, None, None
    n_j = len(job_capacity)
    # source (and sink, tied to it) at 0: the components' potentials agree on the nodes they share
    return taken, potential[0][:n_j] - potential[0][-2], potential[1][:n_j] - potential[1][-2]


def solve_component_chunks(calls: list[tuple]) -> list[tuple]:
    """:func:`solve_component_chunk` over each argument tuple of ``calls``, in order (one task)."""
    return [solve_component_chunk(*call) for call in calls]


def _map_here(fn, calls: list[tuple]) -> list:
    """``fn(*call)`` for each call, here, in order."""
    return [fn(*call) for call in calls]


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (wrapping): a well-spread hash of each value."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


@dataclass
class _Network:
    """source -> job (headcount) -> worker (one per edge) -> sink (worker capacity), plus a zero-cost
    source -> sink bypass (the last arc), used when the objective has one
    (:attr:`matcher.objectives.Objective.flow_bypass`) for the slots left open."""

    tail: np.ndarray
    head: np.ndarray
    capacity: np.ndarray
    cost: np.ndarray
    edge_arcs: slice
    n_nodes: int

    def solve(self, objective: Objective) -> np.ndarray:
        """Optimal flow on every arc, shape (n_arcs,).

        Without a bypass in the objective (``fill``: OR-Tools' max-flow-with-min-cost mode) the last
        entry is what the bypass would carry, ``supply`` minus the flow: the same residual graph, so
        the dual certificate reads both objectives alike.
        """
        n = self.n_nodes
        source, sink = n - 2, n - 1
        supply = int(self.capacity[: self.edge_arcs.start].sum())
        keep = slice(None) if objective.flow_bypass else slice(0, -1)
        smcf = min_cost_flow.SimpleMinCostFlow()
        arcs = smcf.add_arcs_with_capacity_and_unit_cost(
            self.tail[keep], self.head[keep], self.capacity[keep], self.cost[keep]
        )
        smcf.set_nodes_supplies(np.array([source, sink]), np.array([supply, -supply]))
        status = smcf.solve_max_flow_with_min_cost() if objective.cardinality_first else smcf.solve()
        if status != smcf.OPTIMAL:
            raise RuntimeError(f"min-cost flow failed with status {status}")
        flows = smcf.flows(arcs)
        if not objective.flow_bypass:
            # the slots left open would have taken the bypass: its flow completes the residual graph
            flows = np.r_[flows, supply - int(flows[: self.edge_arcs.start].sum())]
        return flows


def _flow_network(j, worker_node, cost, job_capacity, worker_capacity) -> _Network:
    """The network over edges ``(j, worker_node)``; ``worker_node`` -1 sends an edge straight to the
    sink (a worker with no other edge, see :func:`_subgraph_network`)."""
    n_j, n_w, E = len(job_capacity), len(worker_capacity), len(j)
    source, sink = n_j + n_w, n_j + n_w + 1
    supply = int(job_capacity.sum())
    edge_head = np.where(worker_node >= 0, n_j + worker_node, sink)
    return _Network(
        tail=np.r_[np.full(n_j, source), j, n_j + np.arange(n_w), source],
        head=np.r_[np.arange(n_j), edge_head, np.full(n_w, sink), sink],
        capacity=np.r_[job_capacity, np.ones(E, np.int64), worker_capacity, supply],
        cost=np.r_[np.zeros(n_j, np.int64), cost, np.zeros(n_w, np.int64), 0],
        edge_arcs=slice(n_j, n_j + E),
        n_nodes=n_j + n_w + 2,
    )


def _node_potentials(
    net: _Network, flows: np.ndarray, major: np.ndarray, tie_source_sink: bool = False
) -> tuple[np.ndarray, np.ndarray] | None:
    """Potentials ``p`` with ``(major, cost)(u, v) + p[u] - p[v] >= (0, 0)`` lexicographically on every
    residual arc of an optimal flow: shortest distances in the residual graph, as (major, minor)
    arrays of shape (n_nodes,) (None if the search does not settle). ``tie_source_sink`` adds
    zero-cost arcs between the source and the sink both ways, so that their potentials are equal
    (:class:`ComponentFlows`)."""
    forward, backward = flows < net.capacity, flows > 0
    source, sink = net.n_nodes - 2, net.n_nodes - 1
    tie = np.array([source, sink] if tie_source_sink else [], dtype=np.int64)
    tail = np.r_[net.tail[forward], net.head[backward], tie]
    head = np.r_[net.head[forward], net.tail[backward], tie[::-1]]
    cost1 = np.r_[major[forward], -major[backward], np.zeros(len(tie), np.int64)]
    cost2 = np.r_[net.cost[forward], -net.cost[backward], np.zeros(len(tie), np.int64)]
    order = np.argsort(tail, kind="stable")
    indptr = np.r_[0, np.cumsum(np.bincount(tail, minlength=net.n_nodes))]
    from matcher import _kernels  # numba: imported (0.6 s) and compiled only when a big task needs it

    d1, d2, ok = _kernels.shortest_distances_lex(
        indptr, head[order], cost1[order], cost2[order], 64 * net.n_nodes + 1_000_000
    )
    return (d1, d2) if ok else None


def _solve_mcf_pruned(t: Subproblem, cost: np.ndarray) -> tuple[np.ndarray | None, int]:
    """Solve on each job's best edges, prove the result optimal for all edges, or add what it missed.

    Each job starts with its ``2 * headcount + 2`` highest-weight edges; under ``fill`` each worker's
    best edge joins too, so that the first subgraph reaches nearly every worker the full graph does
    (cardinality, not weight, decides first). :func:`solve_and_price` solves the subgraph and prices
    it; an edge left out with a negative reduced cost joins and the subgraph is solved again; when
    none is left, the flow is optimal for all edges (the certificate). ``cost`` holds the integer
    costs of all edges (:func:`integer_costs`), the same the full solve uses. Under ``fill`` the
    certificate is lexicographic (:func:`certificate_costs`): it proves the most slots filled and,
    among those, the best total weight.

    Returns (positions of the chosen edges, rounds), or (None, rounds) when ``PRUNE_MAX_ROUNDS`` pass
    without a certificate (the caller then solves the full graph).
    """
    j, wk, weight = t.job, t.worker, t.weight
    job_cap, worker_cap = t.job_capacity, t.worker_capacity
    from matcher import _kernels

    major, minor = certificate_costs(cost, t.objective)
    keep = _kernels.top_per_group(j, weight, 2 * job_cap + 2)
    if t.objective.cardinality_first:
        keep |= _kernels.top_per_group(wk, weight, np.minimum(worker_cap, 1))
    for rounds in range(1, PRUNE_MAX_ROUNDS + 1):
        edges = np.flatnonzero(keep)
        taken, prices = solve_and_price(j[edges], wk[edges], cost[edges], job_cap, worker_cap, t.objective)
        if prices is None:
            return None, rounds
        violated = ~keep & prices.violated(j, wk, major, minor)
        if not violated.any():
            return edges[taken], rounds
        keep |= violated
    return None, PRUNE_MAX_ROUNDS


def _subgraph_network(j_e, w_e, c_e, job_capacity, worker_capacity) -> _Network:
    """:func:`_flow_network` over some edges, without the nodes of workers that have only one.

    Such a worker's path ``job -> worker -> sink`` carries at most one unit, so it becomes one
    ``job -> sink`` arc: on the benchmark graph this halves the nodes OR-Tools sees.
    """
    degree = np.bincount(w_e, minlength=len(worker_capacity))
    shared = degree[w_e] > 1
    workers_u, w_loc = _relabel(w_e[shared], len(worker_capacity))
    worker_node = np.full(len(j_e), -1)
    worker_node[shared] = w_loc
    return _flow_network(j_e, worker_node, c_e, job_capacity, worker_capacity[workers_u])
