"""Feature benchmark: features + eligibility for 1 job x N candidates (the API path) and for a batch.

Prints the median time of the single-job path over repeated calls, the batch time for random pairs
(worst case: no locality) and for retrieval-ordered pairs (what `gigmatch assign` produces), the
candidate-retrieval time, and peak traced memory. Usage:
python benchmarks/bench_features.py [--workers 10000 --jobs 2000 --pairs 2000000]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
import tracemalloc

import numpy as np

from features.encode import encode_market, to_seconds
from features.history import WorkerHistory
from features.pairs import build_pairs
from gigmatch.core.contract import load_market
from gigmatch.core.defaults import CANDIDATES_PER_SLOT, DEFAULT_MAX_KM
from gigmatch.sim import SimulationConfig, write_simulation
from matcher.retrieval import CandidateRetriever


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=2_000)
    ap.add_argument("--pairs", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=100)
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        write_simulation(SimulationConfig(workers=args.workers, jobs=args.jobs, days=30, seed=7), tmp)
        market = load_market(tmp)
    W, J = encode_market(market)
    H = WorkerHistory(market.events, W.ids)
    asof = to_seconds("2026-10-15")

    worker = np.arange(len(W))
    job = np.zeros(len(W), dtype=np.int64)
    for _ in range(5):
        build_pairs(J, W, job, worker, history=H, asof_s=asof, max_km=DEFAULT_MAX_KM)
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        build_pairs(J, W, job, worker, history=H, asof_s=asof, max_km=DEFAULT_MAX_KM)
        times.append(time.perf_counter() - t)
    print(
        f"1 job x {len(W)} candidates: median {1000 * np.median(times):.2f} ms, p90 {1000 * np.quantile(times, 0.9):.2f} ms"
    )

    rng = np.random.default_rng(0)
    pj = rng.integers(0, len(J), args.pairs)
    pw = rng.integers(0, len(W), args.pairs)
    tracemalloc.start()
    t = time.perf_counter()
    build_pairs(J, W, pj, pw, history=H, asof_s=asof, max_km=DEFAULT_MAX_KM)
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(f"{args.pairs} random pairs: {elapsed:.2f} s, peak traced memory {peak:.0f} MiB")

    order = np.lexsort((pw, pj))
    t = time.perf_counter()
    build_pairs(J, W, pj[order], pw[order], history=H, asof_s=asof, max_km=DEFAULT_MAX_KM)
    print(f"{args.pairs} pairs sorted by job then worker: {time.perf_counter() - t:.2f} s")

    t = time.perf_counter()
    retriever = CandidateRetriever(W)
    cj, cw = retriever.candidates(J, DEFAULT_MAX_KM, per_slot=CANDIDATES_PER_SLOT)
    t_ret = time.perf_counter() - t
    t = time.perf_counter()
    build_pairs(J, W, cj, cw, history=H, asof_s=asof, max_km=DEFAULT_MAX_KM)
    print(
        f"retrieval for {len(J)} jobs: {t_ret:.2f} s -> {len(cj)} pairs; their features {time.perf_counter() - t:.2f} s"
    )


if __name__ == "__main__":
    main()
