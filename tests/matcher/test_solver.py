"""The solver against independent exact references on hundreds of random instances.

References: the LP relaxation solved by HiGHS (``scipy.optimize.linprog``), whose optimum is integral
for bipartite b-matching (totally unimodular constraints), and brute force on tiny instances.
"""

import itertools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

import matcher.solver as solver_mod
from matcher import _kernels, solve_assignment
from tests.helpers import SHARED_DATA

SHARED = SHARED_DATA / "orlib-assign"


def random_instance(rng, n_jobs, n_workers, density, ties=False, max_cap=3, worker_cap=1, neg=False):
    """A random instance; ``worker_cap`` is an int for every worker or "array" for random 0-2."""
    mask = rng.random((n_jobs, n_workers)) < density
    job, worker = np.nonzero(mask)
    weight = rng.integers(1, 4, len(job)).astype(float) if ties else rng.random(len(job)) * 10
    if neg:
        weight -= 4.0 if ties else 5.0
    job_cap = rng.integers(0, max_cap + 1, n_jobs)
    wcap = rng.integers(0, 3, n_workers) if worker_cap == "array" else np.full(n_workers, worker_cap)
    perm = rng.permutation(len(job))  # edge order must not matter
    return job[perm], worker[perm], weight[perm], job_cap, wcap, n_workers


def lp_optimum(job, worker, weight, job_cap, worker_cap, n_workers, objective):
    """(filled, total weight) of an optimal solution, from HiGHS on the LP."""
    E = len(job)
    if E == 0:
        return 0, 0.0
    wcap = np.asarray(worker_cap)
    A = sp.vstack(
        [
            sp.csr_matrix((np.ones(E), (job, np.arange(E))), shape=(len(job_cap), E)),
            sp.csr_matrix((np.ones(E), (worker, np.arange(E))), shape=(n_workers, E)),
        ]
    )
    b = np.r_[job_cap, wcap]
    if objective == "weight":
        res = linprog(-weight, A_ub=A, b_ub=b, bounds=(0, 1), method="highs")
        x = np.round(res.x)
        return int(x.sum()), float(weight @ x)
    res = linprog(-np.ones(E), A_ub=A, b_ub=b, bounds=(0, 1), method="highs")
    filled = round(-res.fun)
    res = linprog(-weight, A_ub=A, b_ub=b, A_eq=np.ones((1, E)), b_eq=[filled], bounds=(0, 1), method="highs")
    return filled, float(-res.fun)


def check_feasible(chosen, job, worker, weight, job_cap, worker_cap, n_workers, objective):
    assert chosen.dtype == bool and chosen.shape == job.shape
    assert (np.bincount(job[chosen], minlength=len(job_cap)) <= job_cap).all()
    assert (np.bincount(worker[chosen], minlength=n_workers) <= np.asarray(worker_cap)).all()
    if objective == "weight":
        assert (weight[chosen] > 0).all()


CASES = [
    dict(n_jobs=4, n_workers=6, density=0.5),
    dict(n_jobs=8, n_workers=8, density=0.4, ties=True),
    dict(n_jobs=10, n_workers=25, density=0.2, max_cap=5),
    dict(n_jobs=12, n_workers=12, density=0.3, worker_cap="array"),
    dict(n_jobs=15, n_workers=40, density=0.08, ties=True, worker_cap=2),
    dict(n_jobs=20, n_workers=20, density=0.6, neg=True),
    dict(n_jobs=30, n_workers=60, density=0.05, ties=True, max_cap=4),
    dict(n_jobs=6, n_workers=30, density=0.9, max_cap=6),  # dense: the LSA path
]


def case_instances(case: int, seed: int, n: int):
    """``n`` random instances of ``CASES[case]``."""
    params = dict(CASES[case])
    rng = np.random.default_rng(seed + case)
    for _ in range(n):
        yield random_instance(
            rng,
            params["n_jobs"],
            params["n_workers"],
            params["density"],
            params.get("ties", False),
            params.get("max_cap", 3),
            params.get("worker_cap", 1),
            params.get("neg", False),
        )


def assert_optimal(instance, objective):
    job, worker, weight, job_cap, wcap, n_w = instance
    chosen = solve_assignment(job, worker, weight, job_cap, wcap, objective=objective)
    check_feasible(chosen, job, worker, weight, job_cap, wcap, n_w, objective)
    filled, total = lp_optimum(job, worker, weight, job_cap, wcap, n_w, objective)
    if objective == "fill":
        assert chosen.sum() == filled
    assert weight[chosen].sum() == pytest.approx(total, abs=1e-6)


@pytest.mark.parametrize("objective", ["weight", "fill"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_matches_lp_optimum_on_random_instances(case, objective):
    for instance in case_instances(case, 1000, 25):  # 8 cases x 2 objectives x 25 = 400 instances
        assert_optimal(instance, objective)


def brute_force(job, worker, weight, job_cap, wcap, objective):
    best = None
    for k in range(len(job) + 1):
        for combo in itertools.combinations(range(len(job)), k):
            c = np.zeros(len(job), bool)
            c[list(combo)] = True
            if (np.bincount(job[c], minlength=len(job_cap)) > job_cap).any():
                continue
            if (np.bincount(worker[c], minlength=len(wcap)) > wcap).any():
                continue
            score = (0, weight[c].sum()) if objective == "weight" else (c.sum(), weight[c].sum())
            if best is None or score > best:
                best = score
    return best


@pytest.mark.parametrize("objective", ["weight", "fill"])
def test_matches_brute_force_on_tiny_instances(objective):
    rng = np.random.default_rng(7)
    for _ in range(60):
        job, worker, weight, job_cap, wcap, n_w = random_instance(
            rng, 3, 4, 0.6, bool(rng.integers(2)), 3, "array", True
        )
        chosen = solve_assignment(job, worker, weight, job_cap, wcap, objective=objective)
        best = brute_force(job, worker, weight, job_cap, wcap, objective)
        got = (0, weight[chosen].sum()) if objective == "weight" else (chosen.sum(), weight[chosen].sum())
        assert got[0] == best[0] and got[1] == pytest.approx(best[1])


def test_stars_infeasible_jobs_and_isolated_workers():
    # job 0: star with 3 workers, headcount 2; job 1: no edges (infeasible); worker 5: isolated
    job = np.array([0, 0, 0, 2, 3, 3])
    worker = np.array([0, 1, 2, 3, 3, 4])
    weight = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 1.0])
    chosen = solve_assignment(
        job, worker, weight, np.array([2, 1, 1, 1]), np.ones(6, dtype=int), objective="weight"
    )
    assert chosen.tolist() == [False, True, True, True, False, True]


def test_ties_are_broken_the_same_whatever_the_edge_order():
    rng = np.random.default_rng(3)
    job, worker, weight, job_cap, wcap, n_w = random_instance(rng, 30, 50, 0.2, ties=True)
    first = solve_assignment(job, worker, weight, job_cap, wcap, objective="weight")
    perm = rng.permutation(len(job))
    again = solve_assignment(job[perm], worker[perm], weight[perm], job_cap, wcap, objective="weight")
    assert np.array_equal(first[perm], again)


def test_mcf_and_lsa_paths_agree(monkeypatch):
    rng = np.random.default_rng(5)
    for _ in range(20):
        job, worker, weight, job_cap, wcap, n_w = random_instance(rng, 8, 20, 0.7, max_cap=2)
        a = solve_assignment(job, worker, weight, job_cap, wcap, objective="weight")
        monkeypatch.setattr(solver_mod, "DENSE_MAX_CELLS", 0)  # force min-cost flow
        b = solve_assignment(job, worker, weight, job_cap, wcap, objective="weight")
        monkeypatch.undo()
        assert weight[a].sum() == pytest.approx(weight[b].sum())


def _record_rounds(monkeypatch) -> list[int]:
    """Send every min-cost-flow task through the pruned path and record its rounds."""
    rounds: list[int] = []
    pruned = solver_mod._solve_mcf_pruned

    def recording(task, cost):
        picked, n = pruned(task, cost)
        rounds.append(n if picked is not None else -n)
        return picked, n

    monkeypatch.setattr(solver_mod, "PRUNE_MIN_EDGES", 0)
    monkeypatch.setattr(solver_mod, "DENSE_MAX_CELLS", 0)
    monkeypatch.setattr(solver_mod, "_solve_mcf_pruned", recording)
    return rounds


@pytest.mark.parametrize("objective", ["weight", "fill"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_pruned_min_cost_flow_matches_lp_optimum(case, objective, monkeypatch):
    rounds = _record_rounds(monkeypatch)
    for instance in case_instances(case, 2000, 15):
        assert_optimal(instance, objective)
    assert rounds and all(r > 0 for r in rounds)  # every task was certified, none fell back


def _unpruned(monkeypatch, job, worker, weight, job_cap, wcap, objective):
    monkeypatch.setattr(solver_mod, "PRUNE_MIN_EDGES", 10**12)
    monkeypatch.setattr(solver_mod, "DENSE_MAX_CELLS", 0)
    try:
        return solve_assignment(job, worker, weight, job_cap, wcap, objective=objective)
    finally:
        monkeypatch.undo()


@pytest.mark.parametrize("objective", ["weight", "fill"])
def test_pruned_equals_unpruned_on_random_geometric_instances(objective, monkeypatch):
    """Pruned (certified) and unpruned solves reach the same optimum, integer cost for integer cost,
    on sparse geometric instances with scarce and plentiful workers alike."""
    rng = np.random.default_rng(23)
    for n_jobs, n_workers in ((60, 200), (120, 150), (80, 90)):
        jxy, wxy = rng.random((n_jobs, 2)), rng.random((n_workers, 2))
        d = np.hypot(*(jxy[:, None, :] - wxy[None, :, :]).transpose(2, 0, 1))
        job, worker = np.nonzero(d < 0.18)
        weight = np.round(1 - d[job, worker] + 0.3 * rng.random(len(job)), 4)
        job_cap, wcap = rng.integers(1, 4, n_jobs), rng.integers(1, 3, n_workers)
        full = _unpruned(monkeypatch, job, worker, weight, job_cap, wcap, objective)
        rounds = _record_rounds(monkeypatch)
        pruned = solve_assignment(job, worker, weight, job_cap, wcap, objective=objective)
        monkeypatch.undo()
        assert rounds and all(r > 0 for r in rounds)
        assert pruned.sum() == full.sum()
        cost = solver_mod.integer_costs(weight)[0]
        assert cost[pruned].sum() == cost[full].sum()


def competing_jobs_instance():
    """Job 0 (headcount 1) ranks workers 0-5 in that order; jobs 1-5 each want one of workers 0-4
    far more. Job 0's first-round edges (its 2 * 1 + 2 = 4 best) all go to others, so the optimum
    needs its 5th or 6th edge, which only the certificate can bring back."""
    job = np.r_[np.zeros(6, int), 1, 2, 3, 4, 5]
    worker = np.r_[np.arange(6), 0, 1, 2, 3, 4]
    weight = np.r_[[10.0, 9, 8, 7, 6, 5], [100.0] * 5]
    return job, worker, weight, np.ones(6, int), np.ones(6, int)


def test_certificate_brings_back_edges_the_first_round_left_out(monkeypatch):
    rounds = _record_rounds(monkeypatch)
    job, worker, weight, job_cap, wcap = competing_jobs_instance()
    chosen = solve_assignment(job, worker, weight, job_cap, wcap, objective="weight")
    assert len(rounds) == 1 and rounds[0] >= 2
    assert sorted(zip(job[chosen], worker[chosen], strict=True)) == [
        (0, 5),
        (1, 0),
        (2, 1),
        (3, 2),
        (4, 3),
        (5, 4),
    ]


def test_fill_certificate_brings_back_the_edge_that_fills_one_more_slot(monkeypatch):
    """Under ``fill`` a low-weight edge can be worth more than any high one. Job 0 ranks workers 0-5;
    jobs 1-5 each have only one of workers 0-4; job 6 has workers 5 (its best) and 6. The first
    subgraph (job 0's four best edges, each worker's best edge) fills 6 of 7 jobs; all 7 fill only
    with job 0's 6th-best edge (worker 5) and job 6 on worker 6, which the lexicographic certificate
    must bring back."""
    rounds = _record_rounds(monkeypatch)
    job = np.r_[np.zeros(6, int), 1, 2, 3, 4, 5, 6, 6]
    worker = np.r_[np.arange(6), 0, 1, 2, 3, 4, 5, 6]
    weight = np.r_[[100.0, 99, 98, 97, 1, 0.5], [2.0] * 5, [50.0, 49.0]]
    chosen = solve_assignment(job, worker, weight, np.ones(7, int), np.ones(7, int), objective="fill")
    assert len(rounds) == 1 and rounds[0] >= 2
    assert sorted(zip(job[chosen], worker[chosen], strict=True)) == [
        (0, 5),
        (1, 0),
        (2, 1),
        (3, 2),
        (4, 3),
        (5, 4),
        (6, 6),
    ]


def test_prices_certify_the_whole_graph_or_name_the_edges_that_improve_it():
    """solve_and_price on a subgraph: the prices flag exactly the left-out edges that can improve the
    flow (here the one edge that fills job 0 under fill), and none once that edge is in."""
    from matcher.objectives import FILL

    job = np.array([0, 1, 1])
    worker = np.array([1, 0, 1])
    cost = solver_mod.integer_costs(np.array([1.0, 1.0, 5.0]))[0]
    caps = np.ones(2, np.int64)
    major, minor = solver_mod.certificate_costs(cost, FILL)
    sub = np.array([False, True, True])  # without job 0's only edge: job 1 takes worker 1 (weight 5)
    taken, prices = solver_mod.solve_and_price(job[sub], worker[sub], cost[sub], caps, caps, FILL)
    assert taken.tolist() == [False, True]
    assert prices.violated(job, worker, major, minor).tolist() == [True, False, False]
    taken, prices = solver_mod.solve_and_price(job, worker, cost, caps, caps, FILL)
    assert taken.tolist() == [True, True, False]
    assert not prices.violated(job, worker, major, minor).any()


def test_pruned_path_falls_back_to_the_full_graph_without_a_certificate(monkeypatch):
    rounds = _record_rounds(monkeypatch)
    monkeypatch.setattr(solver_mod, "PRUNE_MAX_ROUNDS", 1)
    job, worker, weight, job_cap, wcap = competing_jobs_instance()
    chosen = solve_assignment(job, worker, weight, job_cap, wcap, objective="weight")
    assert rounds == [-1]  # no proof after one round: solved on all edges instead
    assert weight[chosen].sum() == 505.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(job=[0, 1], worker=[0], weight=[1.0, 1.0]), "same length"),
        (dict(weight=[np.nan, 1.0]), r"weight must be finite; weight\[0\] is nan"),
        (dict(job_capacity=[-1, 1]), "job_capacity must be >= 0"),
        (dict(worker_capacity=-2), "worker_capacity must be >= 0"),
        (dict(job=[0, 5]), r"job\[1\] = 5 is out of range \[0, 2\)"),
        (dict(worker=[0, 0], job=[1, 1]), "duplicate edge: job 1 and worker 0"),
        (dict(objective="cheapest"), "objective must be one of"),
        (dict(job=[0.5, 1]), "job must hold integers"),
        (dict(worker_capacity=[1]), r"worker\[1\] = 1 is out of range"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    args = dict(job=[0, 1], worker=[0, 1], weight=[1.0, 2.0], job_capacity=[1, 1], worker_capacity=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        solve_assignment(**args)


def read_orlib(path: Path):
    nums = path.read_text().split()
    n = int(nums[0])
    if path.name.startswith("assignp"):
        vals = np.array(nums[1:], dtype=np.int64).reshape(-1, 3)
        return n, vals[:, 0] - 1, vals[:, 1] - 1, vals[:, 2]
    cost = np.array(nums[1:], dtype=np.int64).reshape(n, n)
    i, j = np.nonzero(np.ones((n, n), bool))
    return n, i, j, cost.ravel()


ORLIB = {
    "assign100": 305,
    "assign200": 475,
    "assign400": 804,
    "assign800": 1552,
    "assignp800": 2239,
    "assignp1500": 5839,
    "assignp3000": 18696,
}


@pytest.mark.parametrize("name", list(ORLIB))
def test_reproduces_or_library_optima(name):
    # Published optima (Beasley 1990) from ../shared; skipped on a machine without the team data.
    path = SHARED / f"{name}.txt"
    if not path.exists():
        pytest.skip(f"{path} not present (team data lives in ../shared)")
    n, i, j, cost = read_orlib(path)
    chosen = solve_assignment(i, j, 101.0 - cost, np.ones(n, dtype=int), 1, objective="fill")
    assert chosen.sum() == n
    assert int(cost[chosen].sum()) == ORLIB[name]


def test_objectives_are_named_once_with_one_default():
    import inspect

    from matcher.batch import run_batch
    from matcher.objectives import DEFAULT_OBJECTIVE, OBJECTIVES, get_objective

    assert DEFAULT_OBJECTIVE == "fill" and set(OBJECTIVES) == {"fill", "weight"}
    assert all(get_objective(name).name == name for name in OBJECTIVES)
    for fn in (solve_assignment, solver_mod.validate_problem, run_batch):
        assert inspect.signature(fn).parameters["objective"].default == DEFAULT_OBJECTIVE
    with pytest.raises(ValueError, match=r"objective must be one of \('fill', 'weight'\), got 'cheapest'"):
        get_objective("cheapest")


def test_subproblems_survive_pickling_as_for_dask(monkeypatch):
    import pickle

    solve_task = solver_mod._solve_task
    seen = []

    def through_pickle(task):
        seen.append(type(task))
        return solve_task(pickle.loads(pickle.dumps(task)))

    rng = np.random.default_rng(11)
    for objective in ("weight", "fill"):
        for case in (2, 7):  # sparse (min-cost flow) and dense (LSA)
            job, worker, weight, job_cap, wcap, _ = random_instance(rng, **CASES[case])
            direct = solve_assignment(job, worker, weight, job_cap, wcap, objective=objective)
            monkeypatch.setattr(solver_mod, "_solve_task", through_pickle)
            pickled = solve_assignment(job, worker, weight, job_cap, wcap, objective=objective)
            monkeypatch.undo()
            assert np.array_equal(direct, pickled)
    assert seen and set(seen) == {solver_mod.Subproblem}


def test_fill_on_the_dense_path_fills_with_negative_weights_too():
    """The dense path's cardinality constant must lift every edge above an empty cell: with weights
    far below zero it used to pick nothing where the flow path filled every slot."""
    job, worker = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 2])
    for w in (np.full(4, -100.0), np.array([-1e6, -3.0, -2.0, -1e6])):
        chosen = solve_assignment(job, worker, w, np.array([1, 1]), 1, objective="fill")
        assert chosen.sum() == 2, w
    chosen = solve_assignment(
        job, worker, np.array([-1e6, -3.0, -2.0, -1e6]), np.array([1, 1]), 1, objective="fill"
    )
    assert chosen.tolist() == [True, False, True, False]  # two slots filled, the best total among those


def _blocks(rng, n_blocks, jobs_per, workers_per, density=0.6):
    """Disjoint dense random blocks (one connected component each, almost surely): (job, worker,
    integer cost, job capacity, worker capacity, block of each edge)."""
    job, worker, block = [], [], []
    for b in range(n_blocks):
        j, w = np.nonzero(rng.random((jobs_per, workers_per)) < density)
        job.append(j + b * jobs_per)
        worker.append(w + b * workers_per)
        block.append(np.full(len(j), b))
    job, worker, block = np.concatenate(job), np.concatenate(worker), np.concatenate(block)
    cost = -rng.integers(1, 1000, len(job)).astype(np.int64)
    job_cap = rng.integers(1, 3, n_blocks * jobs_per).astype(np.int64)
    return job, worker, cost, job_cap, np.ones(n_blocks * workers_per, np.int64), block


@pytest.mark.parametrize("objective", ["fill", "weight"])
def test_component_flows_equal_a_whole_solve_and_resolve_only_what_changed(objective):
    """A pricing loop with :class:`ComponentFlows`: every round's flow is as good as solving the whole
    graph (same slots, same cost), its prices certify it, and only components that gained an edge
    or changed a cost are solved again."""
    from matcher.objectives import get_objective

    goal = get_objective(objective)
    rng = np.random.default_rng(3)
    job, worker, cost, job_cap, wcap, block = _blocks(rng, 6, 8, 10)
    in_core = rng.random(len(job)) < 0.5
    cache = solver_mod.ComponentFlows()

    def both(mask, cost_now):
        plain, _ = solver_mod.solve_and_price(job[mask], worker[mask], cost_now[mask], job_cap, wcap, goal)
        taken, prices = solver_mod.solve_and_price(
            job[mask], worker[mask], cost_now[mask], job_cap, wcap, goal, cache=cache
        )
        assert taken.sum() == plain.sum()
        assert cost_now[mask][taken].sum() == cost_now[mask][plain].sum()
        major, minor = solver_mod.certificate_costs(cost_now[mask], goal)
        assert not prices.violated(job[mask], worker[mask], major, minor).any()
        return taken

    both(in_core, cost)
    assert (cache.solved_edges, cache.reused_edges) == (int(in_core.sum()), 0)
    # edges join two blocks only: the other four are not solved again
    grow = ~in_core & np.isin(block, [1, 4])
    grown = in_core | grow
    solved, reused = cache.solved_edges, cache.reused_edges
    both(grown, cost)
    assert cache.solved_edges - solved == int((grown & np.isin(block, [1, 4])).sum())
    assert cache.reused_edges - reused == int((grown & ~np.isin(block, [1, 4])).sum())
    # a cost changed in block 2 (a grown job reweighed): that block alone is solved again
    changed = cost.copy()
    changed[np.flatnonzero(grown & (block == 2))[0]] -= 500
    solved = cache.solved_edges
    both(grown, changed)
    assert cache.solved_edges - solved == int((grown & (block == 2)).sum())
    # chunks solved elsewhere (as on a Dask cluster): the same flow, and the map saw every chunk
    seen = []

    def elsewhere(fn, calls):
        seen.extend(calls)
        return [fn(*call) for call in calls]

    changed[np.flatnonzero(grown & (block == 5))[0]] -= 300
    plain, _ = solver_mod.solve_and_price(job[grown], worker[grown], changed[grown], job_cap, wcap, goal)
    t2, _ = solver_mod.solve_and_price(
        job[grown], worker[grown], changed[grown], job_cap, wcap, goal, cache=cache, map_chunks=elsewhere
    )
    assert len(seen) == 1 and changed[grown][t2].sum() == changed[grown][plain].sum()
    # the same graph in another edge order: nothing is solved again, the flow is the same
    perm = rng.permutation(np.flatnonzero(grown))
    solved = cache.solved_edges
    t1, _ = solver_mod.solve_and_price(
        job[perm], worker[perm], changed[perm], job_cap, wcap, goal, cache=cache
    )
    assert cache.solved_edges == solved
    assert changed[perm][t1].sum() == changed[grown][both(grown, changed)].sum()


def test_component_flows_give_the_pricing_loop_the_same_certificate():
    """The whole pricing loop (subgraph, prices, add what they flag) with and without the cache ends
    on the same optimum, proven for all edges."""
    from matcher.objectives import FILL

    rng = np.random.default_rng(11)
    job, worker, cost, job_cap, wcap, _ = _blocks(rng, 5, 12, 15, density=0.4)
    major, minor = solver_mod.certificate_costs(cost, FILL)
    results = []
    for cache in (None, solver_mod.ComponentFlows()):
        keep = _kernels.top_per_group(job, -cost.astype(float), np.full(len(job_cap), 1, np.int64))
        for _ in range(10):
            e = np.flatnonzero(keep)
            taken, prices = solver_mod.solve_and_price(
                job[e], worker[e], cost[e], job_cap, wcap, FILL, cache=cache
            )
            bad = ~keep & prices.violated(job, worker, major, minor)
            if not bad.any():
                break
            keep |= bad
        results.append((int(taken.sum()), int(cost[e][taken].sum())))
    assert results[0] == results[1]


def test_component_flows_recover_from_a_fingerprint_collision(monkeypatch):
    """With every fingerprint forced equal, a reused flow that breaks a capacity is caught and the
    graph is solved afresh: the result is still optimal."""
    from matcher.objectives import FILL

    monkeypatch.setattr(solver_mod, "_mix64", lambda x: np.zeros_like(x))
    cache = solver_mod.ComponentFlows()
    # job 0 (2 slots) takes both its workers
    taken, _ = solver_mod.solve_and_price(
        np.array([0, 0]),
        np.array([0, 1]),
        np.array([-5, -4]),
        np.array([2]),
        np.ones(2, np.int64),
        FILL,
        cache=cache,
    )
    assert taken.tolist() == [True, True]
    # another graph of two edges, the same fingerprint: both jobs want worker 0, who can take one
    taken, prices = solver_mod.solve_and_price(
        np.array([0, 1]),
        np.array([0, 0]),
        np.array([-5, -4]),
        np.ones(2, np.int64),
        np.ones(1, np.int64),
        FILL,
        cache=cache,
    )
    assert taken.tolist() == [True, False] and prices is not None
    assert cache.solved_edges == 4 and cache.reused_edges == 2
