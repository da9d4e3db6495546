"""Two trainings on one machine: each alone vs. two at once, with and without spinning OpenMP threads.

Issue #20: on a 2-core machine a ``gigmatch train`` whose LightGBM fit takes seconds alone took
minutes beside a second one, because both processes' OpenMP threads spun on the cores between
parallel regions. ``gigmatch`` now sizes each process's threads (``gigmatch.core.threads``:
``GIGMATCH_THREADS``, default the CPUs it is given) and makes idle OpenMP threads sleep
(``OMP_WAIT_POLICY=PASSIVE`` unless set). This runs the real CLI in subprocesses:

- **sized** (this version's default): one training alone, then two started together;
- **spinning** (the reference, the issue's failure mode): the same with ``OMP_WAIT_POLICY=ACTIVE``.

and prints, per configuration, the wall time and the LightGBM fit time (from the artifact's
metadata) of the training alone and of each of the pair, and the pair's slowdown over alone. Two
processes sharing the cores should each take at most about twice the time of one alone.

    python benchmarks/bench_concurrent_train.py [--workers 20000] [--jobs 4000] [--days 30] [--market DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def gigmatch(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``python -m gigmatch.cli ARGS`` with this checkout first on the path."""
    environ = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    environ.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "gigmatch.cli", *args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def trainings(market: Path, out: Path, n: int, env: dict[str, str]) -> list[tuple[float, float]]:
    """Start ``n`` trainings at once; (wall seconds, fit seconds) of each."""
    started = time.perf_counter()
    regs = [out / f"reg{k}-{time.time_ns()}" for k in range(n)]
    procs = [gigmatch("train", "--data", str(market), "--out", str(r), "--seed", "1", env=env) for r in regs]
    walls = []
    for p in procs:
        text, _ = p.communicate()
        walls.append(time.perf_counter() - started)
        if p.returncode != 0:
            raise SystemExit(f"gigmatch train failed:\n{text}")
    fits = []
    for r in regs:
        meta = json.loads(next((r / "versions").glob("*/metadata.json")).read_text())
        fits.append(float(meta["timing_seconds"]["fit"]))
    return list(zip(walls, fits, strict=True))


def main() -> None:
    """Simulate (or reuse) a market, then time the trainings and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=20_000, help="workers of the simulated market")
    ap.add_argument("--jobs", type=int, default=4_000, help="jobs of the simulated market")
    ap.add_argument("--days", type=int, default=30, help="days of the simulated event log")
    ap.add_argument("--market", type=Path, help="an existing market folder instead of simulating one")
    ap.add_argument("--skip-spinning", action="store_true", help="leave out the (slow) reference")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-concurrent-") as tmp:
        tmp = Path(tmp)
        market = args.market
        if market is None:
            market = tmp / "market"
            p = gigmatch(
                "simulate",
                *("--workers", str(args.workers), "--jobs", str(args.jobs), "--days", str(args.days)),
                *("--seed", "5", "--out", str(market)),
            )
            text, _ = p.communicate()
            if p.returncode != 0:
                raise SystemExit(text)
            print(text.strip().splitlines()[-1])
        from gigmatch.core.threads import cpu_count

        print(
            f"{cpu_count()} CPUs given to this process; load average {os.getloadavg()[0]:.1f} before the runs"
        )
        configs = [("sized (this version)", {})]
        if not args.skip_spinning:
            configs.append(("spinning (OMP_WAIT_POLICY=ACTIVE, reference)", {"OMP_WAIT_POLICY": "ACTIVE"}))
        print(
            f"{'configuration':<46}{'alone wall / fit':>18}{'pair A wall / fit':>20}{'pair B wall / fit':>20}"
            f"{'pair / alone, wall / fit (A  B)':>34}"
        )
        for name, env in configs:
            (alone,) = trainings(market, tmp, 1, env)
            pair = trainings(market, tmp, 2, env)
            cells = [f"{w:7.1f} / {f:5.1f} s" for w, f in [alone, *pair]]
            ratio = "  ".join(f"{w / alone[0]:.1f}x / {f / alone[1]:.1f}x" for w, f in pair)
            print(f"{name:<46}{cells[0]:>18}{cells[1]:>20}{cells[2]:>20}{ratio:>34}")
        print(f"load average {os.getloadavg()[0]:.1f} after the runs (other processes on the machine)")
        print("two processes sharing the cores should each take about twice the time of one alone, or less")


if __name__ == "__main__":
    main()
