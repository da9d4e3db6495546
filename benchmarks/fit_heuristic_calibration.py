"""Fit the heuristic scorer's calibration on a simulated county and write models/heuristic_calibration.py.

The heuristic (``heuristic-v1``) has no training run of its own, so its score -> P(completed) map is
fitted once here, isotonic, on the train and validation days of a simulated market (将乐县, 10,000
workers, 2,000 jobs, 30 days, seed 7), and judged on the test days, printed side by side with the
uncalibrated score. Run: ``python benchmarks/fit_heuristic_calibration.py [--out models/heuristic_calibration.py]``
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from gigmatch.core.contract import load_market
from gigmatch.sim import SimulationConfig, write_simulation
from models.calibration import calibration_report, completed, fit_calibration
from models.dataset import build_training_set, time_split
from models.heuristic import HeuristicScorer

CONFIG = SimulationConfig(region="将乐县", workers=10_000, jobs=2_000, days=30, seed=7)


def main() -> None:
    """Simulate, fit, print the test-day ECE before and after, and write the module."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parents[1] / "models" / "heuristic_calibration.py")
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        write_simulation(CONFIG, tmp)
        data = build_training_set(load_market(tmp))
    tr, va, te = time_split(data)
    fit_rows = np.r_[tr, va]
    h = HeuristicScorer()
    score = h.score(data.X)
    cal = fit_calibration(
        np.round(score[fit_rows], 4),
        completed(data.y[fit_rows]),
        fitted_on=f"train+valid days of a simulated county ({CONFIG.region}, {CONFIG.workers} workers, "
        f"{CONFIG.jobs} jobs, {CONFIG.days} days, seed {CONFIG.seed})",
    )
    rep = calibration_report(score[te], cal.predict(score[te]), data.y[te])
    print(f"test days: {rep['pairs']} pairs, completion rate {rep['completion_rate']}")
    print(f"ECE  uncalibrated heuristic score {rep['ece_uncalibrated']:.4f}   calibrated {rep['ece']:.4f}")
    info = {k: v for k, v in cal.info.items()}
    info["test_ece_uncalibrated"] = rep["ece_uncalibrated"]
    info["test_ece"] = rep["ece"]
    text = (
        '"""The heuristic scorer\'s calibration (score -> P(completed)), written by\n'
        "``benchmarks/fit_heuristic_calibration.py``; do not edit by hand (see :mod:`models.calibration`).\n"
        '"""\n\n'
        f"X = {[round(float(v), 4) for v in cal.x]}\n"
        f"Y = {[round(float(v), 6) for v in cal.y]}\n"
        f"INFO = {info!r}\n"
    )
    Path(args.out).write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(cal.x)} knots)")


if __name__ == "__main__":
    main()
