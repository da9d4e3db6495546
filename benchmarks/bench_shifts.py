"""Shifts and dispatch benchmark: the multi-day run on a simulated county, and dispatch policies side by side.

1. Multi-day run: a simulated county (default 将乐县, 20,000 workers, 8,000 jobs posted over 14 days,
   seed 7; the simulator's hours: school-hours mothers, evenings, early risers, daily caps, shifts
   06-14 / 09-15 / 17-21 / ...) assigned over 7 days with a 30-minute gap
   (:func:`matcher.shifts.run_shifts`, HiGHS with the flow warm start). Printed beside it, in the same
   run: the same market's slots with time ignored (today's one-job batch run, ``worker_capacity=1``),
   and the same final MIP solved by ``scipy.optimize.milp`` (HiGHS without our warm start) and by
   OR-Tools CP-SAT (integer objective, values scaled by 10^6), each with the same time limit.
2. Dispatch: the same county's job stream over ``--dispatch-days`` days replayed through grab order,
   windows of 1, 10 and 60 s and the hindsight optimum (:mod:`matcher.replay`), answers seeded.

Usage: python benchmarks/bench_shifts.py [--workers 20000 --jobs 8000 --days 14 --horizon-days 7
       --time-limit-s 60 --dispatch-days 2 --data DIR]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from gigmatch.cli.dispatch import format_table
from gigmatch.core.contract import load_market
from gigmatch.sim.config import SimulationConfig
from gigmatch.sim.simulate import write_simulation
from matcher.batch import run_batch
from matcher.dispatch import AnswerModel
from matcher.replay import hindsight, prepare_stream, replay_grab, replay_windows
from matcher.shifts import run_shifts
from models.heuristic import HeuristicScorer


def cp_sat(model: dict, time_limit_s: float) -> tuple[float, float, str, float]:
    """OR-Tools CP-SAT on the same 0-1 program (values scaled to integers): (objective, bound, status, s)."""
    from ortools.sat.python import cp_model

    value, A, upper = model["value"], model["A"].tocsr(), model["upper"]
    scale = 1e6
    m = cp_model.CpModel()
    x = [m.new_bool_var(f"x{i}") for i in range(len(value))]
    for r in range(A.shape[0]):
        cols = A.indices[A.indptr[r] : A.indptr[r + 1]]
        coef = A.data[A.indptr[r] : A.indptr[r + 1]]
        if np.all(coef == 1):
            m.add(sum(x[c] for c in cols) <= int(upper[r]))
        else:  # daily caps in hours: minutes, integral
            m.add(
                sum(int(round(a * 60)) * x[c] for a, c in zip(coef, cols, strict=True)) <= int(upper[r] * 60)
            )
    m.maximize(sum(int(round(v * scale)) * x[i] for i, v in enumerate(value)))
    for i, v in enumerate(model["x0"]):
        m.add_hint(x[i], bool(v > 0.5))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1
    t = time.perf_counter()
    status = solver.solve(m)
    return (
        solver.objective_value / scale,
        solver.best_objective_bound / scale,
        solver.status_name(status),
        time.perf_counter() - t,
    )


def main() -> None:
    """Run both parts and print the figures side by side."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=20_000)
    ap.add_argument("--jobs", type=int, default=8_000)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--horizon-days", type=int, default=7)
    ap.add_argument("--time-limit-s", type=float, default=60.0)
    ap.add_argument("--dispatch-days", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--data", type=Path, help="an existing market folder instead of simulating one")
    ap.add_argument("--skip-compare", action="store_true", help="skip the scipy.milp and CP-SAT comparison")
    ap.add_argument("--skip-dispatch", action="store_true", help="skip the dispatch comparison")
    args = ap.parse_args()
    print(f"python {platform.python_version()}, {platform.machine()}, seed {args.seed}")
    tmp = None
    data = args.data
    if data is None:
        tmp = tempfile.TemporaryDirectory()
        data = Path(tmp.name) / "market"
        t = time.perf_counter()
        write_simulation(
            SimulationConfig(workers=args.workers, jobs=args.jobs, days=args.days, seed=args.seed), data
        )
        print(
            f"simulated {args.workers} workers, {args.jobs} jobs over {args.days} days in {time.perf_counter() - t:.1f} s"
        )
    market = load_market(data)
    scorer = HeuristicScorer()
    first = market.jobs["start_time"].min().normalize()
    horizon_start = first + np.timedelta64(4, "D")  # after the log's first days, when postings are steady
    asof = horizon_start.value / 1e9

    print(f"\n== multi-day run: {args.horizon_days} days from {horizon_start.date()}, gap 30 min ==")
    # keep the final round's MIP for the solver comparison below (solve_shifts with keep_model)
    from matcher import shifts as shifts_module

    kept: dict = {}
    original = shifts_module.solve_shifts

    def keep(*a, **k):
        sol = original(*a, **{**k, "keep_model": True})
        kept["model"], kept["sol"] = sol.model, sol
        return sol

    shifts_module.solve_shifts = keep
    t = time.perf_counter()
    try:
        res = run_shifts(
            market,
            scorer,
            horizon_days=args.horizon_days,
            gap_minutes=30,
            time_limit_s=args.time_limit_s,
            asof_s=asof,
        )
    finally:
        shifts_module.solve_shifts = original
    wall = time.perf_counter() - t
    s = res.summary
    print(
        f"shifts:   {s['filled']}/{s['slots']} slots ({s['fill_rate']:.1%}), score {s['total_score']}, "
        f"{s['workers_matched']} workers ({s['jobs_multi_job_workers']} with several jobs), "
        f"mean {s['mean_distance_km']} km; method {s['method']} ({s['solver_status']}), gap {s['optimality_gap']}, "
        f"bound {s['bound']}, filled bound {s.get('filled_bound')}; rows {s['constraint_rows']}; "
        f"solver {s['solver_seconds']} s over {s['candidate_rounds']} rounds, total {wall:.1f} s"
    )
    for d in s["per_day"]:
        print(f"   {d['day']}: {d['filled']}/{d['slots']} ({d['fill_rate']:.1%}), {d['workers']} workers")
    # reference in the same run: today's batch over the same jobs with time ignored, one job per worker
    from gigmatch.core.contract import Market

    in_horizon = market.jobs["start_time"].between(
        horizon_start, horizon_start + np.timedelta64(args.horizon_days, "D"), inclusive="left"
    )
    sub = Market(
        market.workers,
        market.jobs[in_horizon].reset_index(drop=True),
        market.employers,
        market.events,
        taxonomy=market.taxonomy,
    )
    t = time.perf_counter()
    ref = run_batch(sub, scorer, worker_capacity=1, asof_s=asof)
    r = ref.summary
    print(
        f"today (time ignored, one job per worker): {r['filled']}/{r['slots']} ({r['fill_rate']:.1%}), "
        f"score {r['total_score']}, solver {r['solver_seconds']} s, total {time.perf_counter() - t:.1f} s"
    )

    if not args.skip_compare:
        model, ours = kept.get("model"), kept.get("sol")
        if model:
            A, n = model["A"], len(model["value"])
            print(
                f"\n== the same MIP ({n} binaries, {A.shape[0]} rows), time limit {args.time_limit_s:g} s each =="
            )
            print(
                f"highspy (ours, warm start):  objective {ours.objective_value:.4f}, bound {ours.bound:.4f}, {ours.status}, {ours.seconds:.1f} s incl. building"
            )
            t = time.perf_counter()
            out = milp(
                -model["value"],
                constraints=LinearConstraint(A, -np.inf, model["upper"]),
                integrality=np.ones(n),
                bounds=Bounds(0, 1),
                options={"time_limit": args.time_limit_s, "mip_rel_gap": 1e-9},
            )
            obj = -out.fun if out.x is not None else float("nan")
            bound = -getattr(out, "mip_dual_bound", float("nan"))
            print(
                f"scipy.optimize.milp (HiGHS): objective {obj:.4f}, bound {bound:.4f}, {out.message.split('.')[0]}, {time.perf_counter() - t:.1f} s"
            )
            obj, bound, status, sec = cp_sat(model, args.time_limit_s)
            print(
                f"OR-Tools CP-SAT (1 worker):  objective {obj:.4f}, bound {bound:.4f}, {status}, {sec:.1f} s"
            )
        else:
            print("\n(the run was a flow: no MIP to compare)")

    if args.skip_dispatch:
        return
    print(
        f"\n== dispatch: postings of {args.dispatch_days} days from {horizon_start.date()}, answers seeded 0 =="
    )
    stream = prepare_stream(market, scorer, first_day=str(horizon_start.date()), days=args.dispatch_days)
    answers = AnswerModel(seed=0)
    runs = [replay_grab(stream, answers)]
    for w in (1.0, 10.0, 60.0):
        t = time.perf_counter()
        m, d = replay_windows(stream, scorer, answers, window_s=w)
        m["replay_s"] = round(time.perf_counter() - t, 1)
        runs.append(m)
    runs.append(hindsight(stream, answers, time_limit_s=args.time_limit_s))
    print(f"{len(stream.J)} jobs, {int(stream.J.headcount.sum())} slots, {len(stream.W)} workers")
    print(format_table(runs))
    for m in runs[1:-1]:
        print(
            f"  {m['policy']}: {m['windows']} windows, {m['windows_not_proven_optimal']} not proven optimal, "
            f"slowest window {m['max_window_solve_s']} s, declined {m['declined']}, expired {m['expired']}, replay {m['replay_s']} s"
        )
    h = runs[-1]
    print(f"  hindsight: method {h['method']}, gap {h['optimality_gap']}, {h['solve_s']} s")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
