"""Experiment commands: ``experiment report`` reads a log and reports per-variant rates and a verdict."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gigmatch.cli._common import CLIError, existing_path, nonneg_int


def _events(path: Path):
    """The ``events`` table of a market folder, or of a service store (a SQLite ``.db`` file)."""
    from gigmatch.core.contract import find_table, read_table, validate_table

    if path.is_file():
        from service.store.sqlite import SQLiteRepository

        repo = SQLiteRepository(path)
        try:
            return validate_table(repo.read_events(), "events", source=path.name)
        finally:
            repo.close()
    if not path.is_dir():
        raise CLIError(f"--data {path}: neither a market folder nor a store file")
    table = find_table(path, "events")
    if table is None:
        raise CLIError(f"--data {path}: holds no events.csv or events.parquet")
    return read_table(table, "events")


def cmd_experiment(args: argparse.Namespace) -> int:
    """``gigmatch experiment report``: per-variant rates per showing with intervals, and a verdict."""
    from models.abtest import experiment_report

    variants = None
    if args.experiment:
        from service.experiments import ExperimentError, parse_experiment

        try:
            exp = parse_experiment(args.experiment)
        except ExperimentError as exc:
            raise CLIError(str(exc).replace("GIGMATCH_EXPERIMENT", "--experiment")) from None
        from models.heuristic import HEURISTIC_VERSION

        # a variant's policy in the log is its model's version: a registry version is its own name, a
        # version folder's is the folder's name, the heuristic's is heuristic-v1
        variants = {
            HEURISTIC_VERSION if v.model == "heuristic" else Path(v.model).name: v.name for v in exp.variants
        }
    report = experiment_report(_events(args.data), variants, seed=args.seed)
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))
        return 0
    print(
        f"{'variant':<28}{'showings':>10}{'jobs':>7}  "
        + "  ".join(f"{o + ' rate (95% CI)':<28}" for o in ("apply", "hire", "completion"))
    )
    for name, v in report["variants"].items():
        cells = "  ".join(
            f"{v[o]['rate']:.4f} [{v[o]['ci'][0]:.4f}, {v[o]['ci'][1]:.4f}]".ljust(28)
            for o in ("applied", "hired", "completed")
        )
        print(f"{name[:28]:<28}{v['showings']:>10}{v['jobs']:>7}  {cells}")
    for name, v in report["verdict"].items():
        print(
            f"verdict: {name} vs {v['against']}: apply rate {v['apply_rate_difference']:+.4f} "
            f"(95% CI [{v['ci'][0]:+.4f}, {v['ci'][1]:+.4f}]): {v['verdict']}"
        )
    inter = report.get("interleaving")
    if inter:
        wins = ", ".join(f"{k} {n}" for k, n in inter["wins"].items())
        print(
            f"interleaving: {inter['lists']} lists; wins {wins}, ties {inter['ties']}; "
            f"sign test p = {inter['p_value']:.3g}: {inter['verdict']}"
        )
    return 0


def register(sub) -> None:
    """Add ``experiment`` to the subcommand parsers ``sub``."""
    p = sub.add_parser("experiment", help="online experiments: report per-variant rates and a verdict")
    p.add_argument(
        "action", choices=["report"], help="what to do: report reads the log and prints the verdict"
    )
    p.add_argument(
        "--data", required=True, type=existing_path, help="market folder with events, or a store .db file"
    )
    p.add_argument(
        "--experiment", help="the experiment's JSON (or its file) to name variants; default: by policy"
    )
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the bootstrap")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    p.set_defaults(func=cmd_experiment)
