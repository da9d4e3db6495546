"""Multi-day assignment with time: exactness against an independent MIP, feasibility, reduction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from gigmatch.core.hours import MINUTES_PER_WEEK, parse_hours
from matcher.batch import run_batch
from matcher.shifts import edge_values, job_intervals, job_shifts, run_shifts, single_shifts, solve_shifts
from models.heuristic import HeuristicScorer
from tests.helpers import make_market

ASOF = pd.Timestamp("2030-01-07T00:00").value / 1e9  # a Monday
HOURS = ["", "", "mon-fri 09:00-15:00;sat 08:00-12:00", "daily 06:00-14:00", "mon-sun 00:00-24:00"]


def random_market(seed: int, n_workers: int = 60, n_jobs: int = 40, days: int = 3, one_per_day=False):
    rng = np.random.default_rng(seed)
    workers = [
        {
            "worker_id": f"w{i}",
            "lat": 26.70 + rng.uniform(-0.03, 0.03),
            "lon": 117.40 + rng.uniform(-0.03, 0.03),
            "skills": "moving",
            "available_hours": "" if one_per_day else HOURS[rng.integers(len(HOURS))],
            "max_hours_per_day": "" if one_per_day or rng.random() < 0.6 else str(rng.choice([4, 6, 8])),
        }
        for i in range(n_workers)
    ]
    jobs = []
    for k in range(n_jobs):
        day = k % days if one_per_day else rng.integers(days)
        start = pd.Timestamp("2030-01-07") + pd.Timedelta(days=int(day), hours=int(rng.integers(6, 18)))
        length = pd.Timedelta(hours=int(rng.integers(2, 9)))
        if one_per_day:  # every job of the market on its own day slot: 08:00-12:00
            start = pd.Timestamp("2030-01-07") + pd.Timedelta(days=int(day), hours=8)
            length = pd.Timedelta(hours=4)
        jobs.append(
            {
                "job_id": f"j{k}",
                "trade": "moving",
                "lat": 26.70 + rng.uniform(-0.03, 0.03),
                "lon": 117.40 + rng.uniform(-0.03, 0.03),
                "headcount": int(rng.integers(1, 4)),
                "start_time": start.isoformat(),
                "end_time": (start + length).isoformat(),
                "posted_at": "2030-01-01T08:00",
                "daily_wage": 150,
            }
        )
    return make_market(workers, jobs)


def reference_optimum(pj, pw, weight, headcount, start, end, gap_s, day_hours, caps, objective):
    """An independent formulation (a row per conflicting pair, not per group) solved by scipy's milp."""
    n = len(pj)
    value = edge_values(weight, objective, int(headcount.sum()))
    rows, upper = [], []
    for j in range(len(headcount)):
        rows.append((pj == j).astype(float))
        upper.append(headcount[j])
    for a in range(n):
        for b in range(a + 1, n):
            ja, jb = pj[a], pj[b]
            if pw[a] == pw[b] and start[ja] < end[jb] + gap_s and start[jb] < end[ja] + gap_s:
                r = np.zeros(n)
                r[[a, b]] = 1
                rows.append(r)
                upper.append(1)
    caps = np.asarray(caps, dtype=float)
    for w in np.unique(pw):
        for d in range(day_hours.shape[1]):
            cap = caps[w] if caps.ndim == 1 else caps[w, d]
            if np.isfinite(cap):
                rows.append(np.where(pw == w, day_hours[pj, d], 0.0))
                upper.append(cap)
    res = milp(
        -value,
        constraints=LinearConstraint(np.array(rows), -np.inf, np.array(upper, dtype=float)),
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 1e-12},
    )
    return -res.fun


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("objective", ["fill", "weight"])
def test_solver_equals_an_independent_mip_optimum(seed, objective):
    rng = np.random.default_rng(100 + seed)
    n_jobs, n_workers = 12, 8
    start = rng.integers(0, 3 * 24, n_jobs) * 3600.0
    end = start + rng.integers(1, 10, n_jobs) * 3600.0
    headcount = rng.integers(1, 3, n_jobs)
    pj, pw = np.nonzero(rng.random((n_jobs, n_workers)) < 0.5)
    weight = rng.uniform(-0.2 if objective == "weight" else 0.05, 1.0, len(pj)).round(3)
    day0, n_days = 0.0, 4
    from gigmatch.core.hours import hours_per_day

    day_hours = hours_per_day(start, end, day0, n_days)
    caps = np.where(rng.random(n_workers) < 0.4, 8.0, np.nan)
    ok = ~(np.isfinite(caps[pw]) & (day_hours[pj].max(axis=1) > np.nan_to_num(caps[pw], nan=99)))
    pj, pw, weight = pj[ok], pw[ok], weight[ok]
    sol = solve_shifts(
        pj,
        pw,
        weight,
        headcount,
        n_workers,
        single_shifts(start, end),
        gap_s=1800,
        day_hours=day_hours,
        max_hours_per_day=caps,
        objective=objective,
        time_limit_s=30,
    )
    want = reference_optimum(pj, pw, weight, headcount, start, end, 1800, day_hours, caps, objective)
    assert sol.optimality_gap == 0.0
    assert sol.objective_value == pytest.approx(want, abs=1e-6)
    # the chosen edges are feasible
    c = sol.chosen
    assert (np.bincount(pj[c], minlength=n_jobs) <= headcount).all()
    for w in range(n_workers):
        js = pj[c & (pw == w)]
        for a in js:
            for b in js:
                if a != b:
                    assert not (start[a] < end[b] + 1800 and start[b] < end[a] + 1800)


def inside_hours(cell: str, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    if not parse_hours(cell):
        return True
    free = np.zeros(MINUTES_PER_WEEK, dtype=bool)
    for w in parse_hours(cell):
        free[np.arange(w.start, w.end) % MINUTES_PER_WEEK] = True
    s = start.day_of_week * 1440 + start.hour * 60 + start.minute
    n = int((end - start).total_seconds() // 60)
    return bool(free[(s + np.arange(n)) % MINUTES_PER_WEEK].all())


@pytest.mark.parametrize("seed", range(4))
def test_no_worker_gets_overlapping_jobs_or_jobs_outside_hours_or_over_cap(seed):
    market = random_market(seed, n_workers=40, n_jobs=50)
    res = run_shifts(market, HeuristicScorer(), horizon_days=3, gap_minutes=30, asof_s=ASOF, time_limit_s=30)
    a = res.assignments
    assert len(a) > 10 and res.summary["optimality_gap"] == 0.0
    assert res.summary["method"] == "mip"  # these markets have overlaps: the MIP path is exercised
    workers = market.workers.set_index("worker_id")
    a = a.assign(s=pd.to_datetime(a["start_time"]), e=pd.to_datetime(a["end_time"]))
    for wid, g in a.groupby("worker_id"):
        g = g.sort_values("s")
        gaps = (g["s"].iloc[1:].to_numpy() - g["e"].iloc[:-1].to_numpy()) / np.timedelta64(1, "m")
        assert (gaps >= 30).all(), (wid, g)
        for s, e in zip(g["s"], g["e"], strict=True):
            assert inside_hours(workers.loc[wid, "available_hours"], s, e)
        cap = workers.loc[wid, "max_hours_per_day"]
        if np.isfinite(cap):
            per_day = ((g["e"] - g["s"]).dt.total_seconds() / 3600).groupby(g["s"].dt.date).sum()
            assert (per_day <= cap + 1e-9).all()
    per_job = a.groupby("job_id").size()
    assert (per_job <= market.jobs.set_index("job_id")["headcount"].loc[per_job.index]).all()
    assert sum(d["filled"] for d in res.summary["per_day"]) == res.summary["filled"]


def test_reduces_to_todays_batch_when_every_job_is_on_its_own_day():
    market = random_market(5, n_workers=12, n_jobs=20, days=20, one_per_day=True)
    res = run_shifts(market, HeuristicScorer(), horizon_days=20, gap_minutes=30, asof_s=ASOF)
    # no two jobs share a day: time never binds, and the batch run with room for every job is the same problem
    today = run_batch(market, HeuristicScorer(), worker_capacity=20, asof_s=ASOF)
    assert res.summary["method"] == "flow" and res.summary["optimality_gap"] == 0.0
    assert res.summary["filled"] == today.summary["filled"]
    assert res.summary["total_score"] == pytest.approx(today.summary["total_score"], abs=1e-6)
    key = ["job_id", "worker_id"]
    assert (
        res.assignments[key].sort_values(key).values.tolist()
        == today.assignments[key].sort_values(key).values.tolist()
    )


def test_horizon_selects_jobs_and_reasons_name_hours():
    market = random_market(2, n_workers=20, n_jobs=30, days=5)
    res = run_shifts(market, HeuristicScorer(), horizon_days=2, asof_s=ASOF)
    start, _ = job_intervals(market.jobs, ASOF)
    assert res.summary["jobs"] == int((start < ASOF + 2 * 86400).sum())
    assert res.summary["eligible_pairs"] < res.summary["candidate_pairs"]  # some hours do not fit
    assert set(res.assignments.columns) >= {"start_time", "end_time", "day"}


def test_a_job_over_several_days_is_a_daily_shift():
    jobs = pd.DataFrame(
        {
            "start_time": pd.to_datetime(
                ["2030-01-07T08:00", "2030-01-07T22:00", "2030-01-07T08:00", pd.NaT]
            ),
            "end_time": pd.to_datetime(["2030-01-09T17:00", "2030-01-08T06:00", pd.NaT, pd.NaT]),
        }
    )
    ptr, s, e = job_shifts(jobs, ASOF + 3600)
    hours = lambda x: (x - ASOF) / 3600  # noqa: E731
    assert ptr.tolist() == [0, 3, 4, 5, 6]
    assert hours(s[:3]).tolist() == [8, 32, 56] and hours(e[:3]).tolist() == [17, 41, 65]
    assert hours(s[3]) == 22 and hours(e[3]) == 30  # one night shift
    assert hours(s[4]) == 8 and hours(e[4]) == 24  # no end: the rest of the start day
    assert hours(s[5]) == 0 and hours(e[5]) == 24  # no start: the whole as-of day


def test_a_large_mip_runs_in_a_child_process_with_the_same_answer(monkeypatch):
    """Large models run in a child that is stopped after the time limit; the answer is the same."""
    import matcher.shifts as shifts

    rng = np.random.default_rng(9)
    start = rng.integers(0, 48, 15) * 3600.0
    end = start + rng.integers(2, 9, 15) * 3600.0
    pj, pw = np.nonzero(rng.random((15, 10)) < 0.5)
    weight = rng.uniform(0.05, 1, len(pj))
    args = (pj, pw, weight, rng.integers(1, 3, 15), 10, single_shifts(start, end))
    here = solve_shifts(*args, time_limit_s=30)
    monkeypatch.setattr(shifts, "IN_PROCESS_MAX_COLUMNS", 0)
    child = solve_shifts(*args, time_limit_s=30)
    assert here.method == child.method == "mip"
    assert child.objective_value == pytest.approx(here.objective_value) and child.optimality_gap == 0.0
