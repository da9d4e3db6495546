"""``gigmatch assign``: the operators' batch assignment with its report."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from gigmatch.cli._common import (
    CLIError,
    StageProgress,
    checked,
    dask_client,
    existing_dir,
    finite_float,
    model_path,
    nonneg_int,
    positive_float,
    positive_int,
    scorer_for,
)
from gigmatch.core.defaults import CANDIDATES_PER_SLOT, DEFAULT_MAX_KM
from matcher.objectives import DEFAULT_OBJECTIVE, OBJECTIVES

nonneg_float = checked(float, lambda v: math.isfinite(v) and v >= 0, "0 or more", "a number")


def cmd_assign(args: argparse.Namespace) -> int:
    """``gigmatch assign``: the batch run over a market folder, with its outputs and report."""
    if args.horizon_days is not None and (args.dask or args.partition_km is not None):
        raise CLIError(
            "--dask/--partition-km are not supported with --horizon-days (the multi-day MIP runs in one process)"
        )
    if args.dask or args.partition_km is not None:
        return _assign_partitioned(args)
    from rich.progress import Progress

    from gigmatch.core.contract import load_market
    from matcher.batch import run_batch
    from matcher.report import write_outputs
    from matcher.shifts import run_shifts

    stages = ["load", "encode", "retrieve", "features", "score", "solve", "explain", "write"]
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("assign", total=len(stages))

        step = StageProgress(progress, task, stages)
        step("load")
        market = load_market(args.data)
        scorer = scorer_for(args.model)
        client = dask_client(args.dask)
        try:
            if args.horizon_days is not None:  # multi-day run with time (matcher.shifts)
                result = run_shifts(
                    market,
                    scorer,
                    horizon_days=args.horizon_days,
                    gap_minutes=args.gap_minutes,
                    time_limit_s=args.time_limit_s,
                    max_km=args.max_km,
                    objective=args.objective,
                    worker_capacity=args.worker_capacity,
                    min_score=args.min_score,
                    candidates_per_slot=args.candidates_per_slot,
                    asof_s=_day_start(args.horizon_start),
                    progress=step,
                )
            else:
                result = run_batch(
                    market,
                    scorer,
                    max_km=args.max_km,
                    objective=args.objective,
                    worker_capacity=1 if args.worker_capacity is None else args.worker_capacity,
                    min_score=args.min_score,
                    candidates_per_slot=args.candidates_per_slot,
                    client=client,
                    progress=step,
                )
        finally:
            if client is not None:
                client.close()
        step("write")
        write_outputs(result, args.out)
    s = result.summary
    print(
        f"filled {s['filled']}/{s['slots']} slots ({s['fill_rate']:.1%}), mean distance {s['mean_distance_km']} km, "
        f"solver {s['solver_seconds']} s, model {s['model_version']} -> {args.out}"
    )
    if "method" in s:
        print(
            f"method {s['method']}, optimality gap {s['optimality_gap']}, bound {s['bound']} ({s['solver_status']})"
        )
        for d in s["per_day"]:
            print(f"  {d['day']}: {d['filled']}/{d['slots']} slots, {d['workers']} workers")
    return 0


def _assign_partitioned(args: argparse.Namespace) -> int:
    """The partitioned run (:mod:`matcher.partition`): on ``--dask``, or in this process with only
    ``--partition-km``; a progress bar per stage counts partitions, and each finished partition's
    figures show beside it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from matcher.partition import DEFAULT_PARTITION_KM, run_partitioned

    partition_km = args.partition_km if args.partition_km is not None else DEFAULT_PARTITION_KM
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"),
    )
    with Progress(*columns, transient=True, disable=not sys.stderr.isatty()) as progress:
        tasks: dict[str, int] = {}

        def step(stage: str, done: int, total: int, detail: str = "") -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total, detail="")
            progress.update(tasks[stage], completed=done, total=total, detail=detail)

        client = dask_client(args.dask)
        try:
            # given the folder, the run loads the market itself and frees it once the partitions'
            # inputs are written
            s = run_partitioned(
                args.data,
                args.out,
                model=args.model,
                partition_km=partition_km,
                max_km=args.max_km,
                objective=args.objective,
                worker_capacity=1 if args.worker_capacity is None else args.worker_capacity,
                min_score=args.min_score,
                candidates_per_slot=args.candidates_per_slot,
                client=client,
                progress=step,
            )
        finally:
            if client is not None:
                cluster = client.cluster  # a LocalCluster we started: close it too, before exit tears it down
                client.close()
                if cluster is not None and args.dask == "local":
                    cluster.close()
    proven = all(g["certified"] for r in s["reconciliation"] for g in r["groups"])
    print(
        f"filled {s['filled']}/{s['slots']} slots ({s['fill_rate']:.1%}), mean distance {s['mean_distance_km']} km, "
        f"{len(s['partitions'])} partitions of {partition_km:g} km ({'optimum proven' if proven else 'solved whole where unproven'}), "
        f"{s['total_seconds']} s, driver peak {s['driver_peak_rss_mb']:.0f} MB, model {s['model_version']} -> {args.out}"
    )
    return 0


def _day_start(text: str | None) -> float | None:
    """``YYYY-MM-DD`` -> its midnight in market seconds since the epoch; None stays None (today)."""
    if text is None:
        return None
    import pandas as pd

    try:
        return pd.Timestamp(pd.Timestamp(text).date()).value / 1e9
    except ValueError:
        raise CLIError(f"--horizon-start: {text!r} is not a date YYYY-MM-DD") from None


def register(sub) -> None:
    """Add this module\'s commands to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "assign",
        help="batch assignment of a market's jobs to nearby workers",
        description="Assign a market's open job slots to nearby eligible workers (exact optimum) and "
        "write assignments.csv, unfilled_jobs.csv, unmatched_workers.csv, summary.json and report.html.",
    )
    p.add_argument("--data", required=True, type=existing_dir, help="market folder (workers, jobs, ...)")
    p.add_argument("--out", required=True, type=Path, help="folder to write the outputs and report to")
    p.add_argument(
        "--model",
        type=model_path,
        help="model registry or version folder; without it the heuristic scorer (cold start)",
    )
    p.add_argument("--max-km", type=positive_float, default=DEFAULT_MAX_KM, help="radius around each job, km")
    p.add_argument(
        "--objective",
        choices=sorted(OBJECTIVES),
        default=DEFAULT_OBJECTIVE,
        help="fill: most slots filled, then best total score; weight: best total score",
    )
    p.add_argument(
        "--worker-capacity",
        type=nonneg_int,
        default=None,
        help="jobs per worker (default 1; with --horizon-days: no limit beyond time)",
    )
    p.add_argument(
        "--min-score",
        type=finite_float,
        default=None,
        help="leave out pairs whose match weight is below this; default: keep every eligible pair",
    )
    p.add_argument(
        "--candidates-per-slot",
        type=positive_int,
        default=CANDIDATES_PER_SLOT,
        help="each job keeps this many nearest able workers per slot",
    )
    p.add_argument(
        "--dask",
        metavar="local|SCHEDULER_ADDRESS",
        default=None,
        help="run partitioned on a Dask cluster (local: a LocalCluster on this machine, one single-threaded "
        "worker process per CPU given, at least 2); default: in this process",
    )
    p.add_argument(
        "--partition-km",
        type=positive_float,
        default=None,
        help="grid cell side for the partitioned run (default 100 with --dask; alone: partitions run here, one by one)",
    )
    p.add_argument(
        "--horizon-days",
        type=positive_int,
        default=None,
        help="assign every job starting in the next N days with time: no overlaps, hours, daily caps",
    )
    p.add_argument(
        "--gap-minutes", type=nonneg_float, default=30.0, help="minimum time between two jobs of a worker"
    )
    p.add_argument(
        "--time-limit-s", type=positive_float, default=60.0, help="MIP time limit; the proven gap is reported"
    )
    p.add_argument(
        "--horizon-start",
        metavar="YYYY-MM-DD",
        default=None,
        help="first day of the horizon (market time); default today",
    )
    p.set_defaults(func=cmd_assign)
