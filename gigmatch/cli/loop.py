"""``gigmatch loop-report``: the answer loop's figures from a service's store, with an HTML page."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gigmatch.cli._common import CLIError, positive_float


def _time(text: str) -> float:
    from gigmatch.core.times import TimeValueError, to_market_time

    try:
        ts = to_market_time(text)
    except (TimeValueError, ValueError, OverflowError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {str(exc).splitlines()[0]}") from None
    if ts is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time")
    return ts.value / 1e9


def cmd_loop_report(args: argparse.Namespace) -> int:
    """``gigmatch loop-report``: print the loop's figures; write ``loop.html`` (and ``loop.json``)."""
    from gigmatch.core.times import market_now
    from service.config import Settings
    from service.loop.cases import CASE_KIND
    from service.loop.report import loop_page, stats_text
    from service.loop.runner import ANSWER_KIND
    from service.loop.stats import loop_stats
    from service.store import is_postgres, open_store

    if not is_postgres(args.db) and not Path(args.db).is_file():
        raise CLIError(f"--db {args.db}: no such store file")
    defaults = Settings()
    store = open_store(args.db)
    try:
        repo = store.repo
        cases = repo.read_records(CASE_KIND)
        answered = repo.read_records(ANSWER_KIND)
        events = store.market(events=True).events
        stats = loop_stats(
            cases,
            answered,
            events,
            args.as_of if args.as_of is not None else market_now(),
            args.sla_s if args.sla_s is not None else defaults.answer_sla_s,
            args.followup_days if args.followup_days is not None else defaults.followup_days,
        )
    finally:
        store.close()
    if args.json:
        print(json.dumps({k: v for k, v in stats.items() if k != "first_answer_s"}, ensure_ascii=False))
    else:
        print(stats_text(stats))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "loop.html").write_text(loop_page(stats), encoding="utf-8")
        (args.out / "loop.json").write_text(json.dumps(stats, ensure_ascii=False, indent=1), encoding="utf-8")
        if not args.json:
            print(f"-> {args.out / 'loop.html'}")
    return 0


def register(sub) -> None:
    """Add this module's commands to the subcommand parsers ``sub``."""
    p = sub.add_parser("loop-report", help="the answer loop's figures (事事有回音) from a service store")
    p.add_argument(
        "--db",
        "--store",
        dest="db",
        required=True,
        help="the service's store: a SQLite file or a postgresql:// URL (issue #16)",
    )
    p.add_argument("--as-of", type=_time, default=None, help="ISO time (market time); default now")
    p.add_argument("--out", type=Path, default=None, help="folder for loop.html and loop.json")
    p.add_argument(
        "--sla-s",
        type=positive_float,
        default=None,
        help="answer SLA in seconds (default GIGMATCH_ANSWER_SLA_S, 3600)",
    )
    p.add_argument(
        "--followup-days",
        type=positive_float,
        default=None,
        help="days without progress before a follow-up (default GIGMATCH_FOLLOWUP_DAYS, 7)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=cmd_loop_report)
