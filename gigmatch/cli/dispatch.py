"""``gigmatch dispatch``: replay a market's job stream through dispatch policies, side by side."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from gigmatch.cli._common import (
    CLIError,
    checked,
    existing_dir,
    model_path,
    nonneg_int,
    positive_float,
    positive_int,
    scorer_for,
)
from gigmatch.core.defaults import DEFAULT_MAX_KM

nonneg_float = checked(float, lambda v: math.isfinite(v) and v >= 0, "0 or more", "a number")
STANDARD_WINDOWS_S = (1.0, 10.0, 60.0)
COLUMNS = (
    ("policy", "policy", "{}"),
    ("filled", "filled", "{}"),
    ("fill_rate", "fill", "{:.1%}"),
    ("total_score", "score", "{:.1f}"),
    ("mean_distance_km", "km", "{:.2f}"),
    ("median_time_to_fill_s", "fill s p50", "{:.0f}"),
    ("mean_time_to_fill_s", "fill s mean", "{:.0f}"),
    ("offers", "offers", "{}"),
)


def cmd_dispatch(args: argparse.Namespace) -> int:
    """Grab order, windows of 1, 10, 60 s (and ``--window-s``) and the hindsight optimum on one stream."""
    from gigmatch.core.contract import load_market
    from matcher.dispatch import AnswerModel
    from matcher.replay import hindsight, prepare_stream, replay_grab, replay_windows

    market = load_market(args.data)
    scorer = scorer_for(args.model)
    try:
        stream = prepare_stream(market, scorer, first_day=args.first_day, days=args.days, max_km=args.max_km)
    except ValueError as exc:
        raise CLIError(f"--first-day: {exc}") from None
    if len(stream.J) == 0:
        raise CLIError("no job with posted_at in the chosen days: nothing to replay")
    answers = AnswerModel(seed=args.seed, accept_scale=args.accept_scale, mean_delay_s=args.mean_delay_s)
    windows = sorted(set(STANDARD_WINDOWS_S) | {args.window_s})
    runs = [replay_grab(stream, answers, gap_minutes=args.gap_minutes)]
    for w in windows:
        m, _ = replay_windows(
            stream,
            scorer,
            answers,
            window_s=w,
            offer_ttl_s=args.offer_ttl_s,
            gap_minutes=args.gap_minutes,
            max_km=args.max_km,
        )
        runs.append(m)
    runs.append(hindsight(stream, answers, gap_minutes=args.gap_minutes, time_limit_s=args.time_limit_s))
    out = {
        "data": str(args.data),
        "jobs": len(stream.J),
        "slots": int(stream.J.headcount.sum()),
        "workers": len(stream.W),
        "first_day": str(args.first_day),
        "days": args.days,
        "window_s": args.window_s,
        "offer_ttl_s": args.offer_ttl_s,
        "gap_minutes": args.gap_minutes,
        "answer_model": {
            "seed": args.seed,
            "accept_scale": args.accept_scale,
            "mean_delay_s": args.mean_delay_s,
        },
        "model_version": scorer.version,
        "policies": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dispatch.json").write_text(json.dumps(out, ensure_ascii=False, indent=1))
    print(f"{len(stream.J)} jobs, {out['slots']} slots, {len(stream.W)} workers; answers seeded {args.seed}")
    print(format_table(runs))
    return 0


def format_table(runs: list[dict]) -> str:
    """The policies side by side as a fixed-width text table."""
    cells = [[h for _, h, _ in COLUMNS]]
    for r in runs:
        cells.append([("-" if r.get(k) is None else f.format(r[k])) for k, _, f in COLUMNS])
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    )


def register(sub) -> None:
    """Add this module's commands to the subcommand parsers ``sub``."""
    p = sub.add_parser("dispatch", help="replay a job stream: grab order vs windows vs the hindsight optimum")
    p.add_argument("--data", required=True, type=existing_dir, help="market folder whose jobs are replayed")
    p.add_argument("--out", required=True, type=Path, help="folder to write the figures to")
    p.add_argument(
        "--window-s", type=positive_float, default=10.0, help="a window length besides 1, 10 and 60 s"
    )
    p.add_argument(
        "--offer-ttl-s", type=positive_float, default=300.0, help="how long an offer waits for an answer, s"
    )
    p.add_argument(
        "--gap-minutes", type=nonneg_float, default=30.0, help="least gap between one worker's jobs, minutes"
    )
    p.add_argument(
        "--model",
        type=model_path,
        help="model registry or version folder; without it the heuristic scorer (cold start)",
    )
    p.add_argument("--max-km", type=positive_float, default=DEFAULT_MAX_KM, help="radius around each job, km")
    p.add_argument("--first-day", default=None, metavar="YYYY-MM-DD", help="default: the first posting day")
    p.add_argument("--days", type=positive_int, default=3, help="days of postings replayed (default 3)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="seed of the workers' answers")
    p.add_argument("--accept-scale", type=positive_float, default=1.0, help="P(accept) = clip(scale * score)")
    p.add_argument("--mean-delay-s", type=positive_float, default=120.0, help="mean answer delay, s")
    p.add_argument("--time-limit-s", type=positive_float, default=60.0, help="the hindsight MIP's time limit")
    p.set_defaults(func=cmd_dispatch)
