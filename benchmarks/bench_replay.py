"""Replay benchmark: random, relevance, slates and slates with the long-waiting minimum, side by side.

Simulates a county (default 将乐县, 10,000 workers, 2,000 jobs, 30 days, seed 7), then replays every
day of it under each policy with the same seed (the same workers' latent traits and the same dice per
pair), and prints one table: fill, completions, mean distance, exposure Gini, share of active workers
never shown in 7 days, share of shows to workers waiting > 14 days, share of jobs without an
application, seconds. The long-waiting run asks for the share ``slates`` gave them plus 10 points
(``--lw-extra``), so the side constraint binds whatever the market.

Run: ``python benchmarks/bench_replay.py [--workers 10000 --jobs 2000 --days 30 --seed 7 --model REGISTRY]``
"""

from __future__ import annotations

import argparse
import tempfile

from gigmatch.core.contract import load_market
from gigmatch.sim import SimulationConfig, write_simulation
from gigmatch.sim.replay import ReplayConfig, replay_market
from models.scorer import load_scorer

COLUMNS = [
    ("fill_rate", "fill", "{:.2%}"),
    ("filled", "filled", "{:d}"),
    ("completions", "completed", "{:d}"),
    ("mean_distance_km", "km", "{:.2f}"),
    ("exposure_gini", "Gini", "{:.3f}"),
    ("share_active_never_shown_7d", "never 7d", "{:.1%}"),
    ("share_shows_long_waiting", "to >14d", "{:.1%}"),
    ("share_jobs_no_application", "no app", "{:.2%}"),
    ("workers_ever_shown", "shown", "{:d}"),
    ("max_plan_gap", "max gap", "{:.4f}"),
    ("seconds", "s", "{:.1f}"),
]


def main() -> None:
    """Simulate, replay each policy, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--region", default="将乐县")
    ap.add_argument("--workers", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=2_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--model", default=None, help="model registry or version; default the heuristic")
    ap.add_argument("--max-per-worker", type=int, default=3)
    ap.add_argument("--lw-extra", type=float, default=0.10)
    args = ap.parse_args()
    scorer = load_scorer(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SimulationConfig(
            region=args.region, workers=args.workers, jobs=args.jobs, days=args.days, seed=args.seed
        )
        write_simulation(cfg, tmp)
        market = load_market(tmp)
    base = dict(days=args.days, seed=args.seed, max_per_worker=args.max_per_worker)
    results = {}
    for policy in ("random", "relevance", "slates"):
        results[policy] = replay_market(market, scorer, ReplayConfig(policy=policy, **base)).summary
    share = min(1.0, round(results["slates"]["share_shows_long_waiting"] + args.lw_extra, 2))
    results[f"slates lw>={share:.2f}"] = replay_market(
        market, scorer, ReplayConfig(policy="slates", long_waiting_share=share, **base)
    ).summary
    print(
        f"replay: {args.region}, {args.workers} workers, {args.jobs} jobs, {args.days} days, seed {args.seed}, "
        f"scorer {scorer.version}; slate 10 per job a day, max {args.max_per_worker} offers per worker (slates)"
    )
    s0 = next(iter(results.values()))
    print(f"jobs in play {s0['jobs']}, slots {s0['slots']}")
    head = f"{'policy':<18}" + "".join(f"{label:>11}" for _, label, _ in COLUMNS)
    print(head)
    for name, s in results.items():
        cells = "".join(f"{fmt.format(s[key]):>11}" for key, _, fmt in COLUMNS)
        print(f"{name:<18}{cells}")
    rel, sl = results["relevance"], results["slates"]
    print(
        f"slates vs relevance: filled {sl['filled'] - rel['filled']:+d} slots, completions "
        f"{sl['completions'] - rel['completions']:+d}, Gini {sl['exposure_gini'] - rel['exposure_gini']:+.3f}, "
        f"never shown in 7 days {sl['share_active_never_shown_7d'] - rel['share_active_never_shown_7d']:+.1%}"
    )


if __name__ == "__main__":
    main()
