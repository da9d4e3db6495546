"""plan_slates against an independent MIP optimum (HiGHS via scipy.optimize.milp) on random instances."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from matcher.slates import P_UNITS, exposure_figures, gini, plan_slates


def random_instance(rng, n_jobs, n_workers, density):
    mask = rng.random((n_jobs, n_workers)) < density
    job, worker = np.nonzero(mask)
    p = np.round(rng.beta(1.2, 4.0, len(job)), 6)
    perm = rng.permutation(len(job))
    return job[perm], worker[perm], p[perm]


def mip_optimum(job, worker, units, job_cap, worker_cap, lw=None, need=0, objective=None):
    """(value, x) of the best plan within the caps (and >= need long-waiting places), from HiGHS."""
    E = len(job)
    if E == 0:
        return 0.0, np.zeros(0, bool)
    cols = np.arange(E)
    rows = [
        sp.csr_matrix((np.ones(E), (job, cols)), shape=(len(job_cap), E)),
        sp.csr_matrix((np.ones(E), (worker, cols)), shape=(len(worker_cap), E)),
    ]
    lb = [np.full(len(job_cap) + len(worker_cap), -np.inf)]
    ub = [np.r_[job_cap, worker_cap].astype(float)]
    if lw is not None:
        rows.append(sp.csr_matrix(lw.astype(float)[None, :]))
        lb.append([need])
        ub.append([np.inf])
    c = -(units if objective is None else objective).astype(float)
    res = milp(
        c,
        constraints=LinearConstraint(sp.vstack(rows), np.concatenate(lb), np.concatenate(ub)),
        integrality=np.ones(E),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0},
    )
    x = res.x > 0.5
    return float(units[x].sum()), x


def check_caps(plan, job, worker, n_jobs, n_workers, slate_size, max_per_worker, held=None):
    c = plan.chosen
    assert (np.bincount(job[c], minlength=n_jobs) <= slate_size).all()
    cap = max_per_worker - (0 if held is None else held)
    assert (np.bincount(worker[c], minlength=n_workers) <= np.maximum(cap, 0)).all()


@pytest.mark.parametrize("seed", range(40))
def test_caps_only_equals_mip(seed):
    rng = np.random.default_rng(seed)
    n_jobs, n_workers = int(rng.integers(2, 15)), int(rng.integers(3, 40))
    job, worker, p = random_instance(rng, n_jobs, n_workers, rng.uniform(0.2, 0.8))
    slate, per_worker = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    held = rng.integers(0, 3, n_workers)
    plan = plan_slates(
        job, worker, p, n_jobs, n_workers, slate_size=slate, max_per_worker=per_worker, held=held
    )
    check_caps(plan, job, worker, n_jobs, n_workers, slate, per_worker, held)
    units = np.round(p * P_UNITS)
    best, _ = mip_optimum(job, worker, units, np.full(n_jobs, slate), np.maximum(per_worker - held, 0))
    assert plan.method in ("flow", "none")
    assert round(plan.total_p * P_UNITS) == round(best)
    assert plan.gap == 0


@pytest.mark.parametrize("seed", range(60))
def test_long_waiting_minimum_equals_mip(seed):
    rng = np.random.default_rng(1000 + seed)
    n_jobs, n_workers = int(rng.integers(2, 12)), int(rng.integers(5, 40))
    job, worker, p = random_instance(rng, n_jobs, n_workers, rng.uniform(0.2, 0.7))
    slate, per_worker = int(rng.integers(1, 6)), int(rng.integers(1, 3))
    lw_worker = rng.random(n_workers) < rng.uniform(0.1, 0.5)
    lw_worker_quality = np.where(lw_worker, 0.5, 1.0)  # long-waiting workers score lower, so it binds
    p = np.round(p * lw_worker_quality[worker], 6)
    share = float(rng.uniform(0.2, 0.9))
    plan = plan_slates(
        job,
        worker,
        p,
        n_jobs,
        n_workers,
        slate_size=slate,
        max_per_worker=per_worker,
        long_waiting=lw_worker,
        long_waiting_share=share,
    )
    check_caps(plan, job, worker, n_jobs, n_workers, slate, per_worker)
    units = np.round(p * P_UNITS)
    job_cap, worker_cap = np.full(n_jobs, slate), np.full(n_workers, per_worker)
    usable = units > 0
    lw = lw_worker[worker]
    # the minimum: ceil(share x places of the unconstrained optimum), capped at the most any plan holds
    _, x0 = mip_optimum(job[usable], worker[usable], units[usable], job_cap, worker_cap)
    _, x_lw = mip_optimum(
        job[usable], worker[usable], units[usable], job_cap, worker_cap, objective=lw[usable].astype(float)
    )
    need = min(math.ceil(share * x0.sum() - 1e-9), int((x_lw & lw[usable]).sum()))
    assert plan.long_waiting_required == need
    assert plan.long_waiting_places >= need
    best, _ = mip_optimum(job[usable], worker[usable], units[usable], job_cap, worker_cap, lw[usable], need)
    assert round(plan.total_p * P_UNITS) == round(best), plan.method
    assert plan.gap == 0
    assert plan.bound == pytest.approx(plan.total_p)


def test_side_constraint_binds_and_costs_little():
    """A larger instance where long-waiting workers score lower: the minimum holds at a stated cost."""
    rng = np.random.default_rng(5)
    n_jobs, n_workers = 40, 300
    job, worker, p = random_instance(rng, n_jobs, n_workers, 0.15)
    lw_worker = rng.random(n_workers) < 0.2
    p = np.round(np.where(lw_worker[worker], 0.6, 1.0) * p, 6)
    free = plan_slates(job, worker, p, n_jobs, n_workers, slate_size=8, max_per_worker=2)
    kw = dict(slate_size=8, max_per_worker=2, long_waiting=lw_worker)
    held_free = plan_slates(job, worker, p, n_jobs, n_workers, long_waiting_share=0.0, **kw)
    fair = plan_slates(job, worker, p, n_jobs, n_workers, long_waiting_share=0.35, **kw)
    assert free.total_p == held_free.total_p
    assert held_free.long_waiting_places / free.chosen.sum() < 0.35
    assert fair.long_waiting_places >= math.ceil(0.35 * free.chosen.sum() - 1e-9)
    assert fair.total_p < free.total_p and fair.gap == 0
    assert fair.method in ("lagrangian", "mip") and fair.multiplier > 0


def test_tier_one_is_planned_first():
    # one job with 2 places; the employer's own worker (tier 1) has the lowest p but comes first
    job = np.array([0, 0, 0])
    worker = np.array([0, 1, 2])
    p = np.array([0.9, 0.8, 0.1])
    tier1 = np.array([False, False, True])
    plan = plan_slates(job, worker, p, 1, 3, slate_size=2, tier1=tier1)
    assert plan.chosen.tolist() == [True, False, True]
    assert plan.tier.tolist() == [2, 2, 1]
    # a tier-1 worker still obeys the cap: worker 2 already holds 3 offers
    plan = plan_slates(job, worker, p, 1, 3, slate_size=2, tier1=tier1, held=np.array([0, 0, 3]))
    assert plan.chosen.tolist() == [True, True, False]


def test_held_offers_and_zero_probability():
    job = np.array([0, 1, 1])
    worker = np.array([0, 0, 1])
    p = np.array([0.5, 0.4, 0.0])
    plan = plan_slates(job, worker, p, 2, 2, slate_size=1, max_per_worker=1)
    assert plan.chosen.tolist() == [True, False, False]  # p = 0 is never shown
    plan = plan_slates(job, worker, p, 2, 2, max_per_worker=2, held=np.array([1, 0]))
    assert plan.chosen.tolist() == [True, False, False]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(p_match=[0.5, 1.5]), "p_match"),
        (dict(long_waiting_share=1.2), "long_waiting_share"),
        (dict(max_per_worker=-1), "max_per_worker"),
        (dict(held=[0]), "held"),
        (dict(job=[0, 5]), "job"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    args = dict(job=[0, 1], worker=[0, 1], p_match=[0.5, 0.5], n_jobs=2, n_workers=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        plan_slates(**args)


def test_gini_and_exposure():
    assert gini(np.array([1, 1, 1, 1])) == 0
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)
    fig = exposure_figures(
        np.array([3, 0, 1, 0]), np.array([True, True, True, False]), np.array([0, 1, 1, 0], bool)
    )
    assert fig["places"] == 4 and fig["workers_shown"] == 2 and fig["candidates"] == 3
    assert fig["long_waiting_share_of_shows"] == 0.25


def test_mip_fallback_equals_reference():
    """The HiGHS fallback (used when the multiplier leaves a duality gap) solves the same stage exactly."""
    from matcher.slates import _Stage

    rng = np.random.default_rng(77)
    job, worker, p = random_instance(rng, 8, 30, 0.4)
    units = np.round(p * P_UNITS).astype(np.int64)
    lw_worker = rng.random(30) < 0.3
    job_cap, worker_cap = np.full(8, 3), np.full(30, 1)
    stage = _Stage(job, worker, units, lw_worker[worker], job_cap, worker_cap)
    need = stage.max_long_waiting()
    x, bound = stage.mip(need)
    best, _ = mip_optimum(job, worker, units, job_cap, worker_cap, lw_worker[worker], need)
    assert int(units[x].sum()) == round(best) and bound >= round(best) - 1
    assert int(x[lw_worker[worker]].sum()) >= need


def test_exposure_discount_matches_the_binomial_expectation():
    from scipy.stats import binom

    from matcher.slates import exposure_discount

    p, k = np.array([0.0, 0.1, 0.5, 0.9, 1.0, 0.3]), np.array([3, 0, 2, 4, 2, 6])
    expected = [
        sum(binom.pmf(n, kk, pp) / (1 + n) for n in range(kk + 1)) for pp, kk in zip(p, k, strict=True)
    ]
    assert np.allclose(exposure_discount(p, k), expected)


def gap_instance():
    """An instance with tied probabilities where the multiplier meets a duality gap (seed 104)."""
    rng = np.random.default_rng(104)
    nj, nw = int(rng.integers(3, 10)), int(rng.integers(5, 25))
    job, worker = np.nonzero(rng.random((nj, nw)) < 0.5)
    p = rng.integers(1, 4, len(job)) / 10
    lw = rng.random(nw) < 0.4
    kw = dict(slate_size=int(rng.integers(1, 4)), max_per_worker=1, long_waiting=lw)
    return job, worker, p, nj, nw, kw, float(rng.uniform(0.3, 0.9))


def test_duality_gap_goes_to_the_mip_and_survives_its_time_limit(monkeypatch):
    from matcher.slates import _Stage

    job, worker, p, nj, nw, kw, share = gap_instance()
    plan = plan_slates(job, worker, p, nj, nw, long_waiting_share=share, **kw)
    assert plan.method == "mip" and plan.gap == 0
    units = np.round(p * P_UNITS)
    need = plan.long_waiting_required
    best, _ = mip_optimum(
        job, worker, units, np.full(nj, kw["slate_size"]), np.ones(nw), kw["long_waiting"][worker], need
    )
    assert round(plan.total_p * P_UNITS) == round(best)
    # a MIP that stops at its time limit without a plan: the Lagrangian plan is kept, feasible, gap reported
    monkeypatch.setattr(_Stage, "mip", lambda self, need: (None, None))
    fallback = plan_slates(job, worker, p, nj, nw, long_waiting_share=share, **kw)
    assert fallback.method == "lagrangian" and fallback.long_waiting_places >= need
    assert fallback.gap > 0 and fallback.bound >= best / P_UNITS - 1e-9
    check_caps(fallback, job, worker, nj, nw, kw["slate_size"], 1)
