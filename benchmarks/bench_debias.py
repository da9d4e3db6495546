"""Position-debiasing benchmark (issue #17): naive vs debiased LambdaRank against the oracle, two seeds.

For each seed: a simulated market with position bias (``--position-bias``: lists in the noisy
heuristic's order or, for 30% exploration, at random; examination ``p ** -0.5``), the point-in-time
training set, one LambdaRank fit that ignores the logged positions (naive) and one that passes them to
LightGBM's position-bias correction (debiased), both early-stopped on the same validation queries.
Printed side by side on the test period, compared on the grades the pairs would have had if examined
(``label_if_examined``): NDCG@10 of naive, debiased, the heuristic and the oracle, each model's share
of the oracle, and the issue #17 verdict (debiased beats naive on both seeds and reaches 0.95 of the
oracle); then the off-policy estimates (IPS, SNIPS, DM, DR) of both models' value on the test lists
beside the true value, and the DR target (within 10%).
Usage: python benchmarks/bench_debias.py [--workers 20000 --jobs 34000 --days 60 --seeds 7 8]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import numpy as np

from gigmatch.core.contract import load_market
from gigmatch.sim import SimulationConfig, write_simulation
from models.dataset import build_training_set, time_split
from models.evaluate import evaluate
from models.ope import ope_report
from models.ranker import GigRanker
from models.registry import ModelScorer


def run(workers: int, jobs: int, days: int, seed: int) -> dict:
    """One seed: simulate, build, fit naive and debiased, evaluate; returns the evaluation report."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SimulationConfig(workers=workers, jobs=jobs, days=days, seed=seed, position_bias=True)
        write_simulation(cfg, tmp)
        t = time.perf_counter()
        data = build_training_set(load_market(tmp))
        t_build = time.perf_counter() - t
        tr, va, te = time_split(data)
        train, valid, test = (data.subset(p) for p in (tr, va, te))
        fits, times = {}, {}
        for name, position in (("naive", None), ("debiased", train.positions)):
            t = time.perf_counter()
            fits[name] = GigRanker(random_state=seed).fit(
                train.X,
                train.y,
                train.group_sizes,
                eval_set=(valid.X, valid.y),
                eval_group=valid.group_sizes,
                position=position,
            )
            times[name] = time.perf_counter() - t
        scorer = ModelScorer(fits["debiased"], {"version": "debiased"}, None)
        naive = ModelScorer(fits["naive"], {"version": "naive"}, None)
        report = evaluate(scorer, test, tmp, others={"naive": naive})
        t = time.perf_counter()
        ope = ope_report(
            {"debiased": scorer, "naive": naive}, data, np.r_[tr, va], te, market_dir=tmp, n_boot=300
        )
        t_ope = time.perf_counter() - t
    s = report["scores"]
    print(
        f"seed {seed}: {workers} workers, {jobs} jobs, {days} days, {len(data.y)} shown pairs; "
        f"training set {t_build:.1f} s, fits naive {times['naive']:.1f} s / debiased {times['debiased']:.1f} s"
    )
    print(f"  labels: {report['labels']}")
    print(f"  {'':<10}{'NDCG@10':>9}{'/ oracle':>10}")
    for label, key in (
        ("naive", "naive"),
        ("debiased", "model"),
        ("heuristic", "heuristic"),
        ("oracle", "oracle"),
    ):
        print(f"  {label:<10}{s[key]['ndcg@10']:>9.4f}{s[key]['ndcg@10'] / s['oracle']['ndcg@10']:>10.3f}")
    print(
        f"  off-policy estimates of the value in the top {ope['k']} ({ope['lists']} test lists, {t_ope:.0f} s; "
        f"logging policy observed {ope['logging_policy']:.3f}):"
    )
    for name, e in ope["scorers"].items():
        cells = "  ".join(
            f"{est.upper()} {e[est]['estimate']:.3f} ({100 * (e[est]['estimate'] - e['true']) / e['true']:+.1f}%, "
            f"CI {e[est]['ci_low']:.3f}-{e[est]['ci_high']:.3f})"
            for est in ("ips", "snips", "dm", "dr", "sndr")
        )
        print(f"  {name:<9} true {e['true']:.3f}  {cells}")
    report["ope"] = ope
    return report


def main() -> None:
    """Run both seeds and print the verdict."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=20_000)
    ap.add_argument("--jobs", type=int, default=34_000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    reports = [run(args.workers, args.jobs, args.days, seed) for seed in args.seeds]
    beats = all(r["scores"]["model"]["ndcg@10"] > r["scores"]["naive"]["ndcg@10"] for r in reports)
    shares = [r["model_vs_oracle_ndcg@10"] for r in reports]
    dr_errors = [
        abs(e["dr"]["estimate"] - e["true"]) / e["true"]
        for r in reports
        for e in r["ope"]["scorers"].values()
    ]
    print(
        f"issue #17 target (DR within 10% of the true value): {'met' if max(dr_errors) <= 0.10 else 'NOT met'} "
        f"(largest DR error {100 * max(dr_errors):.1f}%)"
    )
    verdict = "met" if beats and min(shares) >= 0.95 else "NOT met"
    print(
        f"issue #17 target (debiased beats naive on every seed, >= 0.95 of the oracle): {verdict} "
        f"(debiased / oracle: {', '.join(f'{x:.3f}' for x in shares)})"
    )


if __name__ == "__main__":
    main()
