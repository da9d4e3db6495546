"""Data commands: ``simulate`` a market, ``validate`` a market folder, export the ``taxonomy``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gigmatch.cli._common import CLIError, existing_dir, iso_date, nonneg_int, positive_int


def cmd_simulate(args: argparse.Namespace) -> int:
    """``gigmatch simulate``: write a simulated market and its oracle."""
    from gigmatch.core.contract import load_vocabulary
    from gigmatch.sim import SimulationConfig, write_simulation

    taxonomy = None
    if args.taxonomy is not None:
        if not args.taxonomy.is_dir():
            raise CLIError(f"--taxonomy {args.taxonomy}: not a folder with trades/certificates tables")
        taxonomy = load_vocabulary(args.taxonomy)
        if taxonomy.is_built_in:
            raise CLIError(
                f"--taxonomy {args.taxonomy}: holds no trades.csv/.parquet or certificates.csv/.parquet"
            )

    config = SimulationConfig(
        region=args.region,
        workers=args.workers,
        jobs=args.jobs,
        days=args.days,
        seed=args.seed,
        start=args.start,
        shown_per_job=args.shown_per_job,
    )
    from gigmatch.sim.province import find_province, write_province_simulation

    counties = find_province(args.region)
    if counties is not None:  # a province: its counties one by one, appended (bounded memory)
        summary = write_province_simulation(config, counties, args.out, fmt=args.format, taxonomy=taxonomy)
        print(
            f"simulated {summary['province']} ({len(summary['counties'])} counties): {summary['workers']} workers, "
            f"{summary['jobs']} jobs, {summary['events']} events -> {args.out}"
        )
        return 0
    summary = write_simulation(config, args.out, fmt=args.format, taxonomy=taxonomy)
    print(
        f"simulated {summary['region']['full_name']}: {summary['workers']} workers, {summary['jobs']} jobs, "
        f"{summary['events']} events ({summary['shown_pairs']} shown pairs) -> {args.out}"
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """``gigmatch validate``: validate a market folder and print the vocabulary report."""
    from gigmatch.core.contract import Readings, load_market
    from gigmatch.core.vocabulary import format_report, vocabulary_report

    readings = Readings()
    m = load_market(args.data, readings=readings)
    report = vocabulary_report(m, readings)
    if args.json:
        counts = {t: len(getattr(m, t)) for t in ("workers", "jobs", "employers", "events")}
        print(json.dumps({**counts, "vocabulary": report}, ensure_ascii=False, indent=1))
    else:
        print(format_report(m, report))
    return 0


def cmd_taxonomy(args: argparse.Namespace) -> int:
    """``gigmatch taxonomy export``: write the built-in taxonomy as trades/certificates tables."""
    from gigmatch.core.contract import write_vocabulary
    from gigmatch.core.taxonomy import default_taxonomy

    tax = default_taxonomy()
    write_vocabulary(tax, args.out, fmt=args.format)
    print(
        f"wrote the built-in taxonomy ({len(tax.trades)} trades, {len(tax.certificates)} certificates) as "
        f"{args.out / ('trades.' + args.format)} and {args.out / ('certificates.' + args.format)}"
    )
    return 0


def register(sub) -> None:
    """Add ``simulate``, ``validate`` and ``taxonomy`` to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "simulate",
        help="simulate a county market with an event log and its oracle",
        description="Simulate a county's casual-labour market: workers, jobs, employers, a 30-day event "
        "log and, beside the market, the oracle's true probabilities (truth/oracle.csv). Seeded.",
    )
    p.add_argument(
        "--region",
        default="将乐县",
        help="county or district name, full name or adcode; or a province (四川省): all its counties",
    )
    p.add_argument("--workers", type=positive_int, default=10_000, help="number of workers")
    p.add_argument("--jobs", type=positive_int, default=2_000, help="number of jobs")
    p.add_argument("--days", type=positive_int, default=30, help="length of the event log, days")
    p.add_argument("--seed", type=nonneg_int, default=7, help="random seed: same arguments, same files")
    p.add_argument("--start", type=iso_date, default="2026-09-01", help="first day of the log, YYYY-MM-DD")
    p.add_argument(
        "--shown-per-job", type=positive_int, default=30, help="workers the logging policy shows each job"
    )
    p.add_argument("--format", choices=["csv", "parquet"], default="csv", help="file format of the tables")
    p.add_argument(
        "--taxonomy",
        type=existing_dir,
        help="folder with trades/certificates tables: simulate a market that speaks this vocabulary",
    )
    p.add_argument("--out", required=True, type=Path, help="folder to write the market to")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "validate",
        help="validate a market folder and report how its trade and certificate codes were read",
        description="Validate every table of a market folder (one line naming the file, row and column "
        "on the first problem, exit 2) and print the counts and the vocabulary report.",
    )
    p.add_argument("--data", required=True, type=existing_dir, help="market folder (workers, jobs, ...)")
    p.add_argument("--json", action="store_true", help="the counts and the vocabulary report as JSON")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser(
        "taxonomy",
        help="the built-in trade and certificate taxonomy",
        description="Write the built-in taxonomy as trades/certificates tables, a starting point for a "
        "market's own vocabulary.",
    )
    p.add_argument("action", choices=["export"], help="export: write it as trades/certificates tables")
    p.add_argument(
        "--out", required=True, type=Path, help="folder to write trades.csv and certificates.csv to"
    )
    p.add_argument("--format", choices=["csv", "parquet"], default="csv", help="file format of the tables")
    p.set_defaults(func=cmd_taxonomy)
