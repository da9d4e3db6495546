"""Position-debiasing benchmark (issue #17): naive vs debiased LambdaRank against the oracle, two seeds.

For each seed: a simulated market with position bias (``--position-bias``: lists in the noisy
heuristic's order or, for 30% exploration, at random; examination ``p ** -0.5``; both settable), the
point-in-time training set, one LambdaRank fit that ignores the logged positions (naive, early-stopped
on the logged grades) and one that passes them to LightGBM's position-bias correction (debiased,
early-stopped on the inverse-examination-weighted validation DCG@10, the examination curve estimated
from the log's propensities; :mod:`models.ranker`). Two ceilings beside them, fit on the simulator's
truth, which no log holds: the same LambdaRank on the examined training pairs only with their grades
(perfect debiasing: the best a correction can do with the labels this log has) and on every shown pair
with the grade it would have had if examined (``label_if_examined``; all shown pairs labelled, as in
a market without position bias), each early-stopped on the same truth of the validation pairs.
Printed side by side on the test period, compared on ``label_if_examined``: NDCG@10 of naive,
debiased, both ceilings, the heuristic and the oracle, each one's share of the oracle, the estimated
examination curve beside the true one, and the issue #17 verdict (debiased beats naive on every seed
and reaches 0.95 of the oracle); then the off-policy estimates (IPS, SNIPS, DM, DR) of both models'
value on the test lists beside the true value, and the DR target (within 10%).
Usage: python benchmarks/bench_debias.py [--workers 20000 --jobs 34000 --days 60 --seeds 7 8]
       [--examination-power 0.5 --exploration 0.3] [--no-ope]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gigmatch.core.contract import load_market
from gigmatch.sim import SimulationConfig, write_simulation
from models.dataset import build_training_set, time_split
from models.evaluate import evaluate, unbiased_labels
from models.ope import ope_report
from models.ranker import GigRanker
from models.registry import ModelScorer


def _fit(seed: int, train, valid, y_train=None, y_valid=None, rows_train=None, rows_valid=None, **kw):
    """GigRanker on ``train`` early-stopped on ``valid``; ``y_*`` replace the logged grades and ``rows_*``
    (bool masks) keep a subset of rows (the ceilings' truth); ``kw`` goes to :meth:`GigRanker.fit`."""
    if rows_train is not None:
        train, valid = train.subset(np.flatnonzero(rows_train)), valid.subset(np.flatnonzero(rows_valid))
        y_train, y_valid = y_train[rows_train], y_valid[rows_valid]
    y_train = train.y if y_train is None else y_train
    y_valid = valid.y if y_valid is None else y_valid
    return GigRanker(random_state=seed).fit(
        train.X, y_train, train.group_sizes, eval_set=(valid.X, y_valid), eval_group=valid.group_sizes, **kw
    )


def _examined(data, market_dir: str) -> np.ndarray:
    """The simulator's ``examined`` flag of each row of ``data`` (truth: no log holds it)."""
    oracle = pd.read_csv(
        Path(market_dir) / "truth" / "oracle.csv", usecols=["job_id", "worker_id", "examined"]
    )
    merged = data.meta[["job_id", "worker_id"]].merge(oracle, on=["job_id", "worker_id"], how="left")
    return merged["examined"].fillna(False).to_numpy(dtype=bool)


def run(
    workers: int, jobs: int, days: int, seed: int, power: float, exploration: float, ope: bool = True
) -> dict:
    """One seed: simulate, build, fit naive, debiased and the ceilings, evaluate; returns the report."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SimulationConfig(
            workers=workers,
            jobs=jobs,
            days=days,
            seed=seed,
            position_bias=True,
            examination_power=power,
            exploration=exploration,
        )
        write_simulation(cfg, tmp)
        t = time.perf_counter()
        data = build_training_set(load_market(tmp))
        t_build = time.perf_counter() - t
        tr, va, te = time_split(data)
        train, valid, test = (data.subset(p) for p in (tr, va, te))
        truth, examined = unbiased_labels(data, tmp), _examined(data, tmp)
        fits, times = {}, {}
        runs = {
            "naive": lambda: _fit(seed, train, valid),
            "debiased": lambda: _fit(
                seed,
                train,
                valid,
                position=train.positions,
                propensity=train.propensities,
                eval_position=valid.positions,
            ),
            "examined": lambda: _fit(
                seed, train, valid, truth[tr], truth[va], rows_train=examined[tr], rows_valid=examined[va]
            ),
            "all shown": lambda: _fit(seed, train, valid, truth[tr], truth[va]),
        }
        for name, fit in runs.items():
            t = time.perf_counter()
            fits[name] = fit()
            times[name] = time.perf_counter() - t
        scorers = {name: ModelScorer(f, {"version": name}, None) for name, f in fits.items()}
        report = evaluate(
            scorers["debiased"], test, tmp, others={k: v for k, v in scorers.items() if k != "debiased"}
        )
        if ope:
            t = time.perf_counter()
            report["ope"] = ope_report(
                {"debiased": scorers["debiased"], "naive": scorers["naive"]},
                data,
                np.r_[tr, va],
                te,
                market_dir=tmp,
                n_boot=300,
            )
            t_ope = time.perf_counter() - t
    s = report["scores"]
    trees = {k: f.best_iteration_ or f.model_.best_iteration_ for k, f in fits.items()}
    print(
        f"seed {seed}: {workers} workers, {jobs} jobs, {days} days, examination p ** -{power}, exploration "
        f"{exploration}, {len(data.y)} shown pairs ({examined.mean():.1%} examined), {report['queries']} test "
        f"lists; training set {t_build:.1f} s"
    )
    print(f"  labels: {report['labels']}")
    curve = fits["debiased"].examination_
    if curve is not None:
        shown = [1, 2, 3, 5, 10, 20, 30]
        print(
            "  examination estimated from the log (true): "
            + ", ".join(
                f"p{p} {curve[min(p, len(curve) - 1)]:.2f} ({p**-power:.2f})" for p in shown if p < len(curve)
            )
        )
    print(f"  {'':<22}{'NDCG@10':>9}{'/ oracle':>10}{'trees':>7}{'fit s':>7}  stopped on")
    rows = (
        ("naive", "naive", "naive"),
        ("debiased", "model", "debiased"),
        ("ceiling: examined", "examined", "examined"),
        ("ceiling: all shown", "all shown", "all shown"),
        ("heuristic", "heuristic", None),
        ("oracle", "oracle", None),
    )
    stopped = {
        "naive": "logged grades",
        "debiased": fits["debiased"].stopping_,
        "examined": "truth",
        "all shown": "truth",
    }
    for label, key, fit in rows:
        extra = f"{trees[fit]:>7}{times[fit]:>7.1f}  {stopped[fit]}" if fit else ""
        print(
            f"  {label:<22}{s[key]['ndcg@10']:>9.4f}{s[key]['ndcg@10'] / s['oracle']['ndcg@10']:>10.3f}{extra}"
        )
    if ope:
        e_ope = report["ope"]
        print(
            f"  off-policy estimates of the value in the top {e_ope['k']} ({e_ope['lists']} test lists, {t_ope:.0f} s; "
            f"logging policy observed {e_ope['logging_policy']:.3f}):"
        )
        for name, e in e_ope["scorers"].items():
            cells = "  ".join(
                f"{est.upper()} {e[est]['estimate']:.3f} ({100 * (e[est]['estimate'] - e['true']) / e['true']:+.1f}%, "
                f"CI {e[est]['ci_low']:.3f}-{e[est]['ci_high']:.3f})"
                for est in ("ips", "snips", "dm", "dr", "sndr")
            )
            print(f"  {name:<9} true {e['true']:.3f}  {cells}")
    return report


def main() -> None:
    """Run both seeds and print the verdict."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=20_000)
    ap.add_argument("--jobs", type=int, default=34_000)
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 8])
    ap.add_argument("--examination-power", type=float, default=0.5)
    ap.add_argument("--exploration", type=float, default=0.3)
    ap.add_argument("--no-ope", action="store_true", help="skip the off-policy estimates")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, python {platform.python_version()}")
    reports = [
        run(
            args.workers,
            args.jobs,
            args.days,
            seed,
            args.examination_power,
            args.exploration,
            not args.no_ope,
        )
        for seed in args.seeds
    ]
    beats = all(r["scores"]["model"]["ndcg@10"] > r["scores"]["naive"]["ndcg@10"] for r in reports)
    shares = [r["model_vs_oracle_ndcg@10"] for r in reports]
    if not args.no_ope:
        dr_errors = [
            abs(e["dr"]["estimate"] - e["true"]) / e["true"]
            for r in reports
            for e in r["ope"]["scorers"].values()
        ]
        print(
            f"issue #17 target (DR within 10% of the true value): "
            f"{'met' if max(dr_errors) <= 0.10 else 'NOT met'} (largest DR error {100 * max(dr_errors):.1f}%)"
        )
    ceilings = {k: [r[f"{k}_vs_oracle_ndcg@10"] for r in reports] for k in ("examined", "all shown")}
    verdict = "met" if beats and min(shares) >= 0.95 else "NOT met"
    print(
        f"issue #17 target (debiased beats naive on every seed, >= 0.95 of the oracle): {verdict} "
        f"(debiased / oracle: {', '.join(f'{x:.3f}' for x in shares)}; ceilings, examined pairs only: "
        f"{', '.join(f'{x:.3f}' for x in ceilings['examined'])}; all shown pairs labelled: "
        f"{', '.join(f'{x:.3f}' for x in ceilings['all shown'])})"
    )


if __name__ == "__main__":
    main()
