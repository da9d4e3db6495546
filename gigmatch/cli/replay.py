"""``gigmatch replay``: run a showing policy day by day over a market and write its figures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gigmatch.cli._common import (
    checked,
    existing_dir,
    iso_date,
    model_path,
    positive_float,
    positive_int,
    scorer_for,
)
from gigmatch.core.defaults import DEFAULT_MAX_KM

share = checked(float, lambda v: 0.0 <= v <= 1.0, "between 0 and 1", "a number")
nonneg_float = checked(float, lambda v: v >= 0 and v < float("inf"), "0 or more", "a number")
# gigmatch.sim.replay.POLICIES, spelled out so that building the parser imports nothing heavy (a test
# holds the two equal)
POLICIES = ("random", "relevance", "slates")


def cmd_replay(args: argparse.Namespace) -> int:
    """``gigmatch replay``: the replay of :mod:`gigmatch.sim.replay`, per-day and total figures."""
    from gigmatch.core.contract import load_market
    from gigmatch.sim.replay import ReplayConfig, replay_market, write_replay

    config = ReplayConfig(
        policy=args.policy,
        days=args.days,
        seed=args.seed,
        slate_size=args.slate_size,
        max_per_worker=args.max_per_worker,
        window_hours=args.window_hours,
        max_km=args.max_km,
        long_waiting_days=args.long_waiting_days,
        long_waiting_share=args.long_waiting_share,
        candidates_per_job=args.candidates_per_job,
        start=args.start,
    )
    market = load_market(args.data)
    result = replay_market(market, scorer_for(args.model), config)
    write_replay(result, args.out)
    s = result.summary
    print(
        f"{s['policy']}: {s['days']} days, {s['jobs']} jobs, {s['slots']} slots; filled {s['filled']} "
        f"({s['fill_rate']:.1%}), completions {s['completions']}, mean distance {s['mean_distance_km']} km; "
        f"exposure Gini {s['exposure_gini']}, active never shown in 7 days {s['share_active_never_shown_7d']:.1%}, "
        f"shows to long-waiting {s['share_shows_long_waiting']:.1%}, jobs without an application "
        f"{s['share_jobs_no_application']:.1%} ({s['seconds']} s) -> {args.out}"
    )
    if args.json:
        print(json.dumps(s, indent=1, ensure_ascii=False, default=str))
    return 0


def register(sub) -> None:
    """Add this module's commands to the subcommand parsers ``sub``."""
    p = sub.add_parser(
        "replay",
        help="replay a showing policy day by day over a market and measure it",
        description="Replay a showing policy day by day over a market with the behavioural model "
        "(gigmatch.sim.replay) and write per-day and total figures: fill, completions, distance, "
        "exposure.",
    )
    p.add_argument(
        "--data", required=True, type=existing_dir, help="market folder (its workers, jobs, employers)"
    )
    p.add_argument(
        "--policy",
        required=True,
        choices=POLICIES,
        help="random: a floor; relevance: the scorer's top per job; slates: capacity-aware slates",
    )
    p.add_argument("--days", required=True, type=positive_int, help="days to replay")
    p.add_argument("--out", required=True, type=Path, help="folder to write the figures to")
    p.add_argument(
        "--model",
        type=model_path,
        help="model registry or version folder; without it the heuristic scorer (cold start)",
    )
    p.add_argument("--seed", type=int, default=7, help="random seed of the behavioural model")
    p.add_argument("--slate-size", type=positive_int, default=10, help="workers each job is shown to")
    p.add_argument(
        "--max-per-worker",
        type=positive_int,
        default=3,
        help="offers one worker may hold within --window-hours (slates)",
    )
    p.add_argument(
        "--window-hours", type=nonneg_float, default=24.0, help="how long a shown offer counts as held, hours"
    )
    p.add_argument("--max-km", type=positive_float, default=DEFAULT_MAX_KM, help="radius around each job, km")
    p.add_argument(
        "--long-waiting-days",
        type=nonneg_float,
        default=14.0,
        help="a worker whose last hire is at least this many days ago is long-waiting",
    )
    p.add_argument(
        "--long-waiting-share",
        type=share,
        default=0.0,
        help="minimum share of slate places for long-waiting workers (slates), 0-1",
    )
    p.add_argument(
        "--candidates-per-job",
        type=positive_int,
        default=200,
        help="each open job's nearest able workers considered",
    )
    p.add_argument(
        "--start",
        type=iso_date,
        default=None,
        help="first replayed day YYYY-MM-DD; default the first posting day",
    )
    p.add_argument("--json", action="store_true", help="also print the summary as JSON")
    p.set_defaults(func=cmd_replay)
