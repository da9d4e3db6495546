"""The ``gigmatch`` command line: one entry point, one subcommand per job.

Every subcommand validates its input at the boundary; a bad flag or file ends the run with exit code 2
and one line on stderr naming the problem (no stack trace).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("gigmatch")


class CLIError(Exception):
    """A user error: printed as one line, exit code 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"{text} must be a positive finite number")
    return value


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number")
    return value


# ---------------------------------------------------------------------------------------------------


def cmd_simulate(args: argparse.Namespace) -> int:
    from gigmatch.simulate import SimulationConfig, write_simulation

    config = SimulationConfig(
        region=args.region,
        workers=args.workers,
        jobs=args.jobs,
        days=args.days,
        seed=args.seed,
        start=args.start,
        shown_per_job=args.shown_per_job,
    )
    summary = write_simulation(config, args.out, fmt=args.format)
    print(
        f"simulated {summary['region']['full_name']}: {summary['workers']} workers, {summary['jobs']} jobs, "
        f"{summary['events']} events ({summary['shown_pairs']} shown pairs) -> {args.out}"
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from gigmatch.contract import load_market

    m = load_market(args.data)
    print(
        json.dumps(
            {
                "workers": len(m.workers),
                "jobs": len(m.jobs),
                "employers": len(m.employers),
                "events": len(m.events),
            }
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gigmatch", description="Matching engine for casual-labour markets."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="simulate a county market with an event log and its oracle")
    p.add_argument("--region", default="将乐县", help="county or district name, full name or adcode")
    p.add_argument("--workers", type=_positive_int, default=10_000)
    p.add_argument("--jobs", type=_positive_int, default=2_000)
    p.add_argument("--days", type=_positive_int, default=30)
    p.add_argument("--seed", type=_nonneg_int, default=7)
    p.add_argument("--start", default="2026-09-01", help="first day of the log, YYYY-MM-DD")
    p.add_argument("--shown-per-job", type=_positive_int, default=30)
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("validate", help="validate a market folder against the data contract")
    p.add_argument("--data", required=True, type=Path)
    p.set_defaults(func=cmd_validate)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from gigmatch.contract import ContractError

    try:
        return int(args.func(args) or 0)
    except (ContractError, CLIError, ValueError, FileNotFoundError) as exc:
        print(f"gigmatch {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gigmatch {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())


# ---------------------------------------------------------------------------------------------------
# assign


def _load_scorer(model_dir: Path | None):
    """The registry's current model, or the heuristic scorer (cold start) when none is given/found."""
    from models.heuristic import HeuristicScorer

    if model_dir is None:
        log.info("no model given: using the heuristic scorer (%s)", HeuristicScorer.version)
        return HeuristicScorer()
    from models.registry import load_scorer

    return load_scorer(model_dir)


def _dask_client(address: str | None):
    if not address:
        return None
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise CLIError("--dask needs the dask extra: pip install 'gigmatch[dask]'") from None
    if address == "local":
        return Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None))
    return Client(address)


def cmd_assign(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from gigmatch.contract import load_market
    from matcher.assign import run_batch
    from matcher.report import write_outputs

    stages = ["load", "encode", "retrieve", "features", "score", "solve", "explain", "write"]
    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task("assign", total=len(stages))

        def step(stage: str) -> None:
            progress.update(task, completed=stages.index(stage), description=stage)

        step("load")
        market = load_market(args.data)
        scorer = _load_scorer(args.model)
        client = _dask_client(args.dask)
        try:
            result = run_batch(
                market,
                scorer,
                max_km=args.max_km,
                objective=args.objective,
                worker_capacity=args.worker_capacity,
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
    return 0


def _register_assign(sub) -> None:
    p = sub.add_parser("assign", help="batch assignment of a market's jobs to nearby workers")
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--model", type=Path, help="model dir or registry; default: the heuristic scorer")
    p.add_argument("--max-km", type=_positive_float, default=15.0)
    p.add_argument("--objective", choices=["fill", "weight"], default="fill")
    p.add_argument("--worker-capacity", type=_nonneg_int, default=1)
    p.add_argument("--min-score", type=_finite_float, default=None)
    p.add_argument(
        "--candidates-per-slot",
        type=_positive_int,
        default=30,
        help="each job keeps this many nearest able workers per slot (default 30)",
    )
    p.add_argument("--dask", metavar="local|SCHEDULER_ADDRESS", default=None)
    p.set_defaults(func=cmd_assign)


_EXTRA_COMMANDS.append(_register_assign)
