"""The service's real-time dispatch window (issue #15): the cost of one window, each figure beside the
exact solve inside it (the reference: what :meth:`matcher.dispatch.Dispatcher.close_window` alone takes).

A simulated market is seeded into an in-process store; ``--batch`` open jobs are put again under new
ids (as ``PUT /v1/jobs`` would), and :class:`service.dispatch.DispatchLoop` closes windows: the first
with the new jobs, then an idle window (nothing changed), then a window with another batch while the
first batch's offers are live (busy workers).

    python benchmarks/bench_dispatch_service.py [--workers 10000] [--jobs 2000] [--batch 50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gigmatch.core.contract import load_market  # noqa: E402
from gigmatch.sim import SimulationConfig, write_simulation  # noqa: E402
from models.heuristic import HeuristicScorer  # noqa: E402
from service.dispatch import DispatchLoop  # noqa: E402
from service.store import Store  # noqa: E402


def put_batch(store: Store, market, prefix: str, n: int, offset: int) -> None:
    jobs = market.jobs
    start = jobs["start_time"]
    future = jobs[start > dt.datetime.now() + dt.timedelta(hours=6)].iloc[offset : offset + n]
    for _, row in future.iterrows():
        body = {k: v for k, v in row.to_dict().items() if v is not None and v == v}  # no NaN/NaT
        body["job_id"] = f"{prefix}{row['job_id']}"
        body.pop("posted_at", None)
        store.upsert_job({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in body.items()})


def window(d: DispatchLoop, label: str) -> None:
    before = d.last_window
    t = time.perf_counter()
    made = d.tick()
    total = time.perf_counter() - t
    w = d.last_window if d.last_window is not before else None
    solve = f"{w.seconds * 1000:8.1f} ms ({w.method}, gap {w.optimality_gap:.3g})" if w else "  (no solve)"
    print(f"{label:<38} offers {made:4d}   window {total * 1000:8.1f} ms   exact solve inside {solve}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=2_000)
    ap.add_argument("--batch", type=int, default=50)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        start = (dt.date.today() - dt.timedelta(days=3)).isoformat()
        write_simulation(
            SimulationConfig(workers=args.workers, jobs=args.jobs, days=30, seed=5, start=start), tmp / "m"
        )
        market = load_market(tmp / "m")
        store = Store(tmp / "bench.db")
        store.seed(market)
        d = DispatchLoop(store, HeuristicScorer, window_s=10, offer_ttl_s=300, max_km=15)
        print(f"market: {args.workers} workers, {args.jobs} jobs; batches of {args.batch} put jobs")
        window(d, "baseline (first window)")
        put_batch(store, market, "a_", args.batch, 0)
        window(d, f"{args.batch} new jobs")
        window(d, "again (slots nobody free can take)")
        window(d, "idle (nothing changed)")
        put_batch(store, market, "b_", args.batch, args.batch)
        window(d, f"{args.batch} more, first batch held")
        store.close()


if __name__ == "__main__":
    main()
