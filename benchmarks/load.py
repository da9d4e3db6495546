"""Open-loop HTTP load against a local gigmatch server: fixed request rate, bounded time.

Sends a mix of ranking, event and recommendation requests at ``--rate`` per second for ``--duration``
seconds (requests are scheduled on a clock, not after the previous answer, so a slow server shows up
as latency, not as a lower rate) and reports throughput, p50/p95/p99 per kind and errors. It
simulates a market, trains a model, starts the server on a free 127.0.0.1 port and stops it after;
no other address is ever targeted.

    python benchmarks/load.py --rate 100 --duration 60 --mix rank=80,events=15,recommend=5

``--stores`` runs the same load twice in one go, side by side (issue #16): the one-process server over
the embedded SQLite store (the reference), then ``gigmatch serve --workers 2`` (two replicas behind
one port) over a PostgreSQL server the script starts itself with ``fsync`` on, as in production;
both seeded from the same market, with the same model and the same request sequence.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np

from gigmatch.core.defaults import DEFAULT_MAX_KM

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gigmatch.testing import BACKEND, Server  # noqa: E402


def parse_mix(text: str) -> dict[str, float]:
    mix = {}
    for part in text.split(","):
        k, _, v = part.partition("=")
        if k not in ("rank", "events", "recommend"):
            raise SystemExit(f"--mix: unknown kind {k!r}")
        mix[k] = float(v)
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items()}


class Workload:
    def __init__(self, jobs: list[str], workers: list[str], radius_km: dict[str, float], seed: int = 0):
        self.jobs, self.workers, self.radius = jobs, workers, radius_km
        self.rng = random.Random(seed)
        self.counter = itertools.count()

    def request(self, kind: str) -> tuple[str, dict]:
        if kind == "rank":
            job = self.rng.choice(self.jobs)
            return "/v1/rank", {"job_id": job, "limit": 20, "max_km": self.radius.get(job, DEFAULT_MAX_KM)}
        if kind == "recommend":
            return "/v1/recommend", {"worker_id": self.rng.choice(self.workers), "limit": 20}
        n = next(self.counter)
        events = [
            {
                "ts": "2026-11-20T09:00:00",
                "job_id": self.rng.choice(self.jobs),
                "worker_id": self.rng.choice(self.workers),
                "event": "shown",
                "event_id": f"load-{os.getpid()}-{n}-{k}",
            }
            for k in range(5)
        ]
        return "/v1/events", {"events": events}


async def run_load(
    url: str, key: str, workload: Workload, mix: dict[str, float], rate: float, duration: float
):
    kinds = list(mix)
    weights = [mix[k] for k in kinds]
    results: list[tuple[str, float, int, dict]] = []
    # aiohttp rather than httpx: on 2 shared cores the client's own CPU per request (~1 ms vs ~3.5 ms
    # for httpx) is time taken from the server and added to every measured latency.
    connector = aiohttp.TCPConnector(limit=64)
    timeout = aiohttp.ClientTimeout(total=10)
    headers = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(url, headers=headers, connector=connector, timeout=timeout) as client:

        async def one(kind: str):
            path, body = workload.request(kind)
            t = time.perf_counter()
            try:
                async with client.post(path, json=body) as r:
                    await r.read()
                    status, headers = r.status, {k.lower(): v for k, v in r.headers.items()}
            except (TimeoutError, aiohttp.ClientError):
                status, headers = 0, {}
            results.append((kind, time.perf_counter() - t, status, headers))

        tasks = []
        start = time.perf_counter()
        n_total = int(rate * duration)
        for i in range(n_total):  # bounded: rate x duration requests, then stop
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(random.choices(kinds, weights)[0])))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    return results, wall


def server_timing(headers: dict) -> dict[str, float]:
    out = {}
    for part in headers.get("server-timing", "").split(","):
        name, _, dur = part.strip().partition(";dur=")
        if dur:
            out[name] = float(dur)
    return out


def report(results, wall: float, rate: float) -> int:
    ok = [r for r in results if r[2] == 200]
    errors = len(results) - len(ok)
    print(
        f"sent {len(results)} requests in {wall:.1f} s ({len(results) / wall:.1f}/s, target {rate}/s); "
        f"ok {len(ok)}, errors {errors} {sorted({r[2] for r in results if r[2] != 200})}"
    )
    every = np.array([r[1] for r in ok]) * 1000
    if len(every):
        print(
            f"  {'all':<10} n={len(every):5d}  p50 {np.percentile(every, 50):6.2f} ms  p95 {np.percentile(every, 95):6.2f} ms"
            f"  p99 {np.percentile(every, 99):6.2f} ms  max {every.max():6.2f} ms"
        )
    for kind in sorted({r[0] for r in results}):
        lat = np.array([r[1] for r in ok if r[0] == kind]) * 1000
        if len(lat):
            print(
                f"  {kind:<10} n={len(lat):5d}  p50 {np.percentile(lat, 50):6.2f} ms  p95 {np.percentile(lat, 95):6.2f} ms"
                f"  p99 {np.percentile(lat, 99):6.2f} ms  max {lat.max():6.2f} ms"
            )
    split = [
        server_timing(r[3]) | {"server_total": float(r[3].get("x-process-time-ms", "nan"))}
        for r in ok
        if r[0] == "rank"
    ]
    if split:
        keys = ["retrieve", "features", "model", "server_total"]
        med = {k: np.median([s.get(k, np.nan) for s in split]) for k in keys}
        client = np.median([r[1] for r in ok if r[0] == "rank"]) * 1000
        serial = med["server_total"] - med["retrieve"] - med["features"] - med["model"]
        print(
            f"  rank split (medians, ms): retrieval {med['retrieve']:.2f}, features {med['features']:.2f}, "
            f"model {med['model']:.2f}, validation+serialisation+framework {serial:.2f}, "
            f"network+client {client - med['server_total']:.2f}"
        )
    return errors


def summary(results) -> dict[str, float]:
    """Errors and p50/p99 (ms) of all requests, ranks and the write path (events)."""
    ok = [r for r in results if r[2] == 200]
    out: dict[str, float] = {"errors": len(results) - len(ok)}
    for kind in ("all", "rank", "events"):
        lat = np.array([r[1] for r in ok if kind == "all" or r[0] == kind]) * 1000
        out[f"{kind} p50"] = float(np.percentile(lat, 50)) if len(lat) else float("nan")
        out[f"{kind} p99"] = float(np.percentile(lat, 99)) if len(lat) else float("nan")
    return out


def prepare(workers: int, jobs: int, target_candidates: int, tmp: Path):
    """Simulate the market, train the model; returns (market_dir, job ids, worker ids, radius per job)."""
    from gigmatch.core.contract import load_market
    from gigmatch.core.geo import haversine_km
    from gigmatch.sim import SimulationConfig, write_simulation
    from models.train import train

    market_dir = tmp / "market"
    write_simulation(SimulationConfig(workers=workers, jobs=jobs, days=30, seed=5), market_dir)
    train(market_dir, tmp / "registry", seed=5)
    m = load_market(market_dir)
    lat, lon = m.workers["lat"].to_numpy(), m.workers["lon"].to_numpy()
    radius = {}
    for job_id, jl, jn in zip(m.jobs["job_id"][:300], m.jobs["lat"][:300], m.jobs["lon"][:300], strict=True):
        d = np.sort(haversine_km(jl, jn, lat, lon))
        radius[job_id] = float(d[min(target_candidates, len(d)) - 1]) + 1e-6  # ~target candidates within
    return market_dir, list(radius), list(m.workers["worker_id"]), radius


def spawn(workers: int, jobs: int, target_candidates: int, tmp: Path, **server_env: str):
    from gigmatch.core.contract import load_market
    from gigmatch.core.geo import haversine_km
    from gigmatch.sim import SimulationConfig, write_simulation
    from models.train import train

    market_dir = tmp / "market"
    write_simulation(SimulationConfig(workers=workers, jobs=jobs, days=30, seed=5), market_dir)
    train(market_dir, tmp / "registry", seed=5)
    m = load_market(market_dir)
    lat, lon = m.workers["lat"].to_numpy(), m.workers["lon"].to_numpy()
    radius = {}
    for job_id, jl, jn in zip(m.jobs["job_id"][:300], m.jobs["lat"][:300], m.jobs["lon"][:300], strict=True):
        d = np.sort(haversine_km(jl, jn, lat, lon))
        radius[job_id] = float(d[min(target_candidates, len(d)) - 1]) + 1e-6  # ~target candidates within
    server = Server(tmp / "store.db", data=market_dir, model=tmp / "registry", **server_env)
    return server, list(radius), list(m.workers["worker_id"]), radius


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--mix", default="rank=80,events=15,recommend=5")
    ap.add_argument("--workers", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=2_000)
    ap.add_argument("--candidates", type=int, default=2_000, help="workers within each ranked job's radius")
    ap.add_argument(
        "--server-env", nargs="*", default=[], metavar="NAME=VALUE", help="environment for the spawned server"
    )
    ap.add_argument(
        "--stores",
        action="store_true",
        help="one-process SQLite, then PostgreSQL with --replicas processes, side by side",
    )
    ap.add_argument("--replicas", type=int, default=2, help="with --stores: serve --workers N on PostgreSQL")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    if args.stores:
        sys.exit(compare_stores(args))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(kv.split("=", 1) for kv in args.server_env)
        server, jobs, workers, radius = spawn(args.workers, args.jobs, args.candidates, Path(tmp), **env)
        try:
            workload = Workload(jobs, workers, radius)
            asyncio.run(run_load(server.url, BACKEND, workload, {"rank": 1.0}, 20, 3))  # warm-up
            results, wall = asyncio.run(
                run_load(server.url, BACKEND, workload, parse_mix(args.mix), args.rate, args.duration)
            )
            errors = report(results, wall, args.rate)
        finally:
            server.stop()
    sys.exit(1 if errors else 0)


def compare_stores(args) -> int:
    """The same load against SQLite (one process) and PostgreSQL (``--replicas`` processes)."""
    from gigmatch.testing import PostgresServer

    env = dict(kv.split("=", 1) for kv in args.server_env)
    rows = {}
    errors = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        market_dir, jobs, workers, radius = prepare(args.workers, args.jobs, args.candidates, tmp)
        pg = PostgresServer(durable=True)  # fsync on: the write path is measured as deployed
        try:
            runs = [
                ("SQLite, 1 process", {"db": tmp / "store.db"}),
                (
                    f"PostgreSQL, {args.replicas} replicas (--workers {args.replicas})",
                    {"db": tmp / "pg.db", "store": pg.create_database("load"), "workers": args.replicas},
                ),
            ]
            for label, where in runs:
                print(f"\n== {label}")
                server = Server(data=market_dir, model=tmp / "registry", start_timeout_s=600, **where, **env)
                try:
                    workload = Workload(jobs, workers, radius)  # same seed: the same requests
                    # warm-up: every process behind the port gets requests (new connections are spread
                    # over them by the kernel), so no measured request pays a process's first-call costs
                    for _ in range(3 * where.get("workers", 1)):
                        asyncio.run(run_load(server.url, BACKEND, workload, {"rank": 1.0}, 20, 1))
                    results, wall = asyncio.run(
                        run_load(server.url, BACKEND, workload, parse_mix(args.mix), args.rate, args.duration)
                    )
                    errors += report(results, wall, args.rate)
                    rows[label] = summary(results)
                finally:
                    server.stop()
        finally:
            pg.stop()
    names = list(next(iter(rows.values())))
    print(f"\n{'store':<40}" + "".join(f"{n:>12}" for n in names))
    for label, row in rows.items():
        print(
            f"{label:<40}"
            + "".join(f"{row[n]:>12.2f}" if n != "errors" else f"{row[n]:>12.0f}" for n in names)
        )
    return 1 if errors else 0


if __name__ == "__main__":
    main()
