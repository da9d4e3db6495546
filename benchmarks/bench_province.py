"""Province benchmark (#18): the whole-market batch run against the partitioned run on Dask, side by side.

For each size (default 50,000, 200,000 and 1,000,000 workers; jobs one fifth of workers) it simulates
a 四川省 market (``gigmatch simulate --region 四川省``, cached under ``--cache``), then runs, each in its
own process:

1. ``gigmatch assign`` (single process, the reference), and
2. ``gigmatch assign --dask local --partition-km K`` (a LocalCluster of 2 worker processes).

It prints wall time, peak RSS per process (single: the process; Dask: the driver and the largest
worker process, from ``summary.json``), filled slots and fill rate, total score, and whether the two
reached the same optimum (same filled count and total score), with the machine's load average (1
minute) before and after each run and the partitioned run's seconds per stage. ``--skip-single-above
N`` skips the single-process reference above N workers (the row says so, with the single process's
peak per worker measured at the smaller sizes). ``--json PATH`` also writes every figure there.

Usage: python benchmarks/bench_province.py [--sizes 50000,200000,1000000] [--days 7] [--partition-km 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path


def load() -> float:
    """The machine's 1-minute load average (other sessions share its 2 cores)."""
    return round(os.getloadavg()[0], 1)


def run(argv: list[str]) -> tuple[float, float, int]:
    """Run ``argv``; (wall seconds, peak RSS of its largest process in MB, exit code)."""
    t = time.perf_counter()
    wrapped = [
        sys.executable,
        "-c",
        "import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
        "print('PEAK_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(rc)",
        *argv,
    ]
    proc = subprocess.run(wrapped, capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak = next((int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_KB")), 0)
    if proc.returncode:
        print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
    return wall, peak / 1024.0, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50000,200000,1000000")
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--partition-km", type=float, default=100.0)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/gigmatch-bench-province"))
    ap.add_argument("--skip-single-above", type=int, default=200_000)
    ap.add_argument("--json", type=Path, default=None, help="also write every figure to this file")
    args = ap.parse_args()
    gm = [sys.executable, "-m", "gigmatch.cli"]
    print(f"machine: {platform.machine()}, python {platform.python_version()}, 2 Dask worker processes")
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        data = args.cache / f"sichuan_{n}_d{args.days}_s{args.seed}"
        if not (data / "workers.csv").exists():
            wall, peak, rc = run(
                [*gm, "simulate", "--region", "四川省", "--workers", str(n), "--jobs", str(n // 5)]
                + ["--days", str(args.days), "--seed", str(args.seed), "--out", str(data)]
            )
            print(f"\nsimulated {n} workers: {wall:.0f} s, peak {peak:.0f} MB (rc {rc})")
        single = None
        if n <= args.skip_single_above:
            out = args.cache / f"out_single_{n}"
            before = load()
            wall, peak, rc = run([*gm, "assign", "--data", str(data), "--out", str(out)])
            s = json.loads((out / "summary.json").read_text()) if rc == 0 else {}
            single = {"wall": wall, "peak": peak, "rc": rc, "load": [before, load()], **s}
        out = args.cache / f"out_dask_{n}"
        before = load()
        wall, peak, rc = run(
            [*gm, "assign", "--data", str(data), "--out", str(out), "--dask", "local"]
            + ["--partition-km", str(args.partition_km)]
        )
        d = json.loads((out / "summary.json").read_text()) if rc == 0 else {}
        dask = {"wall": wall, "peak": peak, "rc": rc, "load": [before, load()], **d}
        rows.append((n, single, dask))
        print(
            f"\n{n:,} workers / {n // 5:,} jobs ({d.get('slots', '?')} slots, {len(d.get('partitions', []))} partitions)"
        )
        if single:
            print(
                f"  single process : {single['wall']:7.1f} s  peak {single['peak']:7.0f} MB  filled {single.get('filled')} "
                f"({single.get('fill_rate')})  total score {single.get('total_score')}  solver {single.get('solver_seconds')} s"
                f"  load {single['load'][0]} -> {single['load'][1]}"
            )
        else:
            measured = [(r[0], r[1]["peak"]) for r in rows if r[1]]
            trend = ""
            if len(measured) >= 2:  # a straight line through the two largest measured sizes
                (n0, m0), (n1, m1) = measured[-2], measured[-1]
                trend = (
                    f", about {(m1 + (m1 - m0) / (n1 - n0) * (n - n1)) / 1024:.1f} GB on the measured trend"
                )
            print(f"  single process : skipped above {args.skip_single_above:,} workers (memory{trend})")
        worker_peak = max((e["worker_process_peak_rss_mb"] for e in d.get("partitions", [])), default=0)
        certified = all(g["certified"] for r in d.get("reconciliation", []) for g in r["groups"])
        print(
            f"  Dask, 2 workers: {dask['wall']:7.1f} s  peak driver {d.get('driver_peak_rss_mb', 0):.0f} MB, "
            f"largest worker {worker_peak:.0f} MB  filled {d.get('filled')} ({d.get('fill_rate')})  "
            f"total score {d.get('total_score')}  proven optimal: {certified}  load {dask['load'][0]} -> {dask['load'][1]}"
        )
        print(f"  Dask stages (s): {d.get('stage_seconds')}")
        if single and d:
            same = (
                single.get("filled") == d.get("filled")
                and abs(single.get("total_score", 0) - d["total_score"]) < 1e-3
            )
            print(f"  same optimum: {same}   ratio Dask / single wall: {dask['wall'] / single['wall']:.2f}")
    print("\nper slot (cost growing linearly with slots means a flat column):")
    for n, single, dask in rows:
        slots = dask.get("slots") or 1
        s_ms = f"{1000 * single['wall'] / slots:.2f} ms" if single else "-"
        print(f"  {n:>9,} workers: single {s_ms}, Dask {1000 * dask['wall'] / slots:.2f} ms per slot")

    if args.json:
        args.json.write_text(
            json.dumps([{"workers": n, "single": s, "dask": d} for n, s, d in rows], default=str)
        )


if __name__ == "__main__":
    main()
