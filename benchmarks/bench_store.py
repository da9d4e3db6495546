"""Repository operations on both backends, side by side: the write path and the generic streams,
records and leases that the answer loop and dispatch store their state in (issue #16).

Each operation runs ``--repeat`` times against a SQLite file (``synchronous=FULL``) and against a
PostgreSQL server the script starts itself with ``fsync`` on (as deployed), both on this machine's
disk; the table gives the median and p99 latency in ms. One process, one thread: this is the cost of
one call, not throughput under concurrency (``benchmarks/load.py --stores`` measures that).

    python benchmarks/bench_store.py [--repeat 300]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gigmatch.testing import PostgresServer  # noqa: E402
from service.store.postgres import PostgresRepository  # noqa: E402
from service.store.sqlite import SQLiteRepository  # noqa: E402


def operations(repo, repeat: int):
    """(name, callable(i)) pairs; state they need is prepared here."""
    repo.put_records("cases", {f"k{i}": {"status": "open", "i": i} for i in range(1000)})
    first = repo.append("answers", [{"n": i} for i in range(1000)])[0]
    stamp = time.time()

    def event_batch(i):
        repo.add_events(
            [(f"b{stamp}-{i}-{k}", "2026-11-20T09:00:00", "j1", f"w{k}", "shown", None) for k in range(5)]
        )

    return [
        ("add_events, batch of 5 (committed)", event_batch),
        (
            "upsert_rows, 1 worker (+ feed)",
            lambda i: repo.upsert_rows("workers", [{"worker_id": f"w{i}", "lat": "1"}]),
        ),
        ("append, 1 stream row", lambda i: repo.append("answers", [{"n": i}])),
        ("read_stream, page of 100", lambda i: repo.read_stream("answers", after=first + i, limit=100)),
        ("put_records, 1 document", lambda i: repo.put_records("cases", {f"k{i}": {"status": "closed"}})),
        ("read_records, kind of 1,000", lambda i: repo.read_records("cases")),
        ("acquire_lease (renew)", lambda i: repo.acquire_lease("answer_loop", "me", 30)),
        ("changes_after (idle follower poll)", lambda i: repo.changes_after(10**12)),
        ("events_after (idle follower poll)", lambda i: repo.events_after(10**12)),
    ]


def measure(repo, repeat: int) -> dict[str, tuple[float, float]]:
    out = {}
    for name, op in operations(repo, repeat):
        op(-1)  # warm
        times = []
        for i in range(repeat):
            t = time.perf_counter()
            op(i)
            times.append(time.perf_counter() - t)
        ms = np.array(times) * 1000
        out[name] = (float(np.median(ms)), float(np.percentile(ms, 99)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=300)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SQLiteRepository(Path(tmp) / "bench.db")
        lite = measure(sqlite, args.repeat)
        sqlite.close()
        server = PostgresServer(durable=True)
        try:
            pg_repo = PostgresRepository(server.create_database("bench"))
            pg = measure(pg_repo, args.repeat)
            pg_repo.close()
        finally:
            server.stop()
    print(f"{'operation':<38}{'SQLite p50':>12}{'p99':>9}{'PostgreSQL p50':>16}{'p99':>9}   (ms)")
    for name in lite:
        print(f"{name:<38}{lite[name][0]:>12.2f}{lite[name][1]:>9.2f}{pg[name][0]:>16.2f}{pg[name][1]:>9.2f}")


if __name__ == "__main__":
    main()
