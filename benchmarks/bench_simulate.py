"""Simulator benchmark: wall time and peak memory of one market, printed.

Usage: python benchmarks/bench_simulate.py [--workers 100000 --jobs 20000 --days 30 --region 将乐县]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time

from gigmatch.sim import SimulationConfig, write_simulation


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=100_000)
    ap.add_argument("--jobs", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--region", default="将乐县")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    config = SimulationConfig(
        workers=args.workers, jobs=args.jobs, days=args.days, region=args.region, seed=args.seed
    )
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        try:
            summary = write_simulation(config, tmp)
        except ValueError as exc:  # bad --region and the like: one line, no traceback
            raise SystemExit(f"bench_simulate: {exc}") from None
        wall = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.workers} workers, {args.jobs} jobs, {args.days} days ({args.region}): "
        f"{summary['events']} events, {summary['shown_pairs']} shown pairs written as CSV in {wall:.1f} s, "
        f"peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
