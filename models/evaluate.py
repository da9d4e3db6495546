"""Offline evaluation: the model against baselines on the test period, in the same run.

Baselines: distance only (nearest first), skill match only (trade credit, then years), the
hand-weighted heuristic, and for simulated markets the oracle (the simulator's true expected gain,
``truth/oracle.csv`` beside the market) and the oracle without the pair's own apply noise (see
:mod:`gigmatch.sim.oracle`). The report says how far the model is from each.

Labels: the logged grades, except on a simulated market with position bias, whose oracle file holds
each pair's ``label_if_examined``: there every scorer is compared on those (the grade had the worker
looked at the offer), because the logged grades of a biased log reward a ranker for learning the old
ranking's position effect. The report's ``labels`` says which.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.registry import column
from models.calibration import calibration_report, scorer_calibration
from models.dataset import TrainingSet
from models.heuristic import HeuristicScorer
from models.metrics import mean_average_precision, ndcg_at_k, recall_at_k


def metrics(group: np.ndarray, y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """The report's metrics of one scoring: ``ndcg@5``, ``ndcg@10``, ``map`` and ``recall@10``.

    Parameters
    ----------
    group, y, score : ndarray of shape (n_rows,)
        Query id, graded label and score of each row (see :mod:`models.metrics`).

    Returns
    -------
    dict of str to float, each a mean over queries, rounded to 5 decimals.
    """
    return {
        "ndcg@5": round(ndcg_at_k(group, y, score, 5), 5),
        "ndcg@10": round(ndcg_at_k(group, y, score, 10), 5),
        "map": round(mean_average_precision(group, y, score), 5),
        "recall@10": round(recall_at_k(group, y, score, 10), 5),
    }


def baseline_scores(data: TrainingSet, market_dir: str | Path | None = None) -> dict[str, np.ndarray]:
    """Scores of every baseline for the rows of ``data``.

    Parameters
    ----------
    data : TrainingSet
        ``X`` of shape (n_rows, n_features) and ``meta`` with ``job_id`` and ``worker_id``.
    market_dir : str or Path, optional
        A simulated market's folder; its ``truth/oracle.csv`` adds the oracle baselines.

    Returns
    -------
    dict of str to ndarray of shape (n_rows,), float64
        ``distance_only`` (minus km), ``skill_only`` (trade credit + 0.01 x years up to 50),
        ``heuristic`` (in [0, 1]) and, with an oracle file, ``oracle`` and ``oracle_no_pair_noise``
        (expected graded label; 0 for pairs the oracle does not list).
    """
    X = data.X
    out = {
        "distance_only": -column(X, "distance_km"),
        "skill_only": column(X, "trade_related_credit") + 0.01 * np.minimum(column(X, "trade_years"), 50),
        "heuristic": HeuristicScorer().score(data.X),
    }
    oracle_path = Path(market_dir) / "truth" / "oracle.csv" if market_dir else None
    if oracle_path and oracle_path.exists():
        wanted = {"job_id", "worker_id", "expected_gain", "expected_gain_no_pair_noise"}
        oracle = pd.read_csv(oracle_path, usecols=lambda c: c in wanted)
        merged = data.meta[["job_id", "worker_id"]].merge(oracle, on=["job_id", "worker_id"], how="left")
        out["oracle"] = merged["expected_gain"].fillna(0.0).to_numpy()
        if "expected_gain_no_pair_noise" in merged:  # oracles written before this column lack it
            out["oracle_no_pair_noise"] = merged["expected_gain_no_pair_noise"].fillna(0.0).to_numpy()
    return out


def unbiased_labels(data: TrainingSet, market_dir: str | Path | None) -> np.ndarray | None:
    """The simulator's grade of each row had the worker examined the offer, shape (n_rows,) int32, or
    None when ``market_dir`` has no oracle with ``label_if_examined`` (no position bias simulated)."""
    oracle_path = Path(market_dir) / "truth" / "oracle.csv" if market_dir else None
    if not (oracle_path and oracle_path.exists()):
        return None
    head = pd.read_csv(oracle_path, nrows=0).columns
    if "label_if_examined" not in head:
        return None
    oracle = pd.read_csv(oracle_path, usecols=["job_id", "worker_id", "label_if_examined"])
    merged = data.meta[["job_id", "worker_id"]].merge(oracle, on=["job_id", "worker_id"], how="left")
    return merged["label_if_examined"].fillna(0).to_numpy(dtype=np.int32)


def evaluate(
    scorer, data: TrainingSet, market_dir: str | Path | None = None, others: dict | None = None
) -> dict:
    """Metrics of ``scorer``, of ``others`` (``{name: scorer}``, e.g. the naive model beside the
    debiased one) and of every baseline on ``data`` (normally the test period)."""
    g, y = data.meta["query"].to_numpy(), data.y
    truth = unbiased_labels(data, market_dir)
    report = {
        "rows": len(y),
        "queries": int(g.max()) + 1 if len(g) else 0,
        "period": [str(data.meta["query_ts"].min()), str(data.meta["query_ts"].max())],
        "model_version": scorer.version,
        "labels": "logged" if truth is None else "if examined (simulator truth; the log is position-biased)",
        "scores": {},
    }
    if truth is not None:
        y = truth
    report["scores"]["model"] = metrics(g, y, scorer.score(data.X))
    for name, other in (others or {}).items():
        report["scores"][name] = metrics(g, y, other.score(data.X))
    for name, s in baseline_scores(data, market_dir).items():
        report["scores"][name] = metrics(g, y, s)
    calibration = scorer_calibration(scorer)
    if calibration is not None:  # ECE of the probability slates use, before and after calibration
        score = scorer.score(data.X)
        report["calibration"] = calibration_report(
            scorer.match_weight(data.X), calibration.predict(score), data.y
        )
    for oracle in ("oracle", "oracle_no_pair_noise"):
        if oracle in report["scores"]:
            o = report["scores"][oracle]["ndcg@10"]
            report[f"model_vs_{oracle}_ndcg@10"] = (
                round(report["scores"]["model"]["ndcg@10"] / o, 4) if o > 0 else None
            )
            for name in others or {}:
                report[f"{name}_vs_{oracle}_ndcg@10"] = (
                    round(report["scores"][name]["ndcg@10"] / o, 4) if o > 0 else None
                )
    return report
