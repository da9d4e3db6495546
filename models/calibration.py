"""Calibrated match probability: from a scorer's score to P(showing the pair ends in a completed job).

The ranker's score orders candidates; slates (:mod:`matcher.slates`) and exposure-aware ranking need a
probability they can add up. :func:`fit_calibration` fits an isotonic (monotone, non-parametric) map
from score to the completion rate on a **held-out period** (the training run's validation days, never
the days the model was fitted on, nor the test days it is judged on), and :class:`Calibration` applies
it. A completed job is a pair graded :data:`models.labels.COMPLETED` or better.

Where each scorer's calibration comes from
    * A trained model: fitted by :func:`models.train.train` on its validation period and stored in the
      artifact's ``metadata.json`` (``calibration``: knots, the period and rows it was fitted on, and
      the test period's expected calibration error before and after).
    * The heuristic (``heuristic-v1``): fitted once on a simulated county (the knots and provenance are
      in :mod:`models.heuristic_calibration`, written by ``benchmarks/fit_heuristic_calibration.py``);
      markets unlike the simulated one should train a model, whose calibration is their own.

:func:`p_match` is the one way to ask any scorer for the probability. :func:`expected_calibration_error`
and :func:`reliability_curve` are what ``gigmatch evaluate`` and the notebook report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.isotonic import IsotonicRegression

from models.labels import COMPLETED

ECE_BINS = 10  # equal-width probability bins of the expected calibration error and reliability curve


@dataclass(frozen=True)
class Calibration:
    """A monotone map from score to P(completed), piecewise linear between isotonic knots.

    Attributes
    ----------
    x : float array of shape (n_knots,)
        Scores, ascending.
    y : float array of shape (n_knots,)
        P(completed) at each knot, non-decreasing, in [0, 1]; constant beyond the end knots.
    info : dict
        Provenance: method, the period and rows it was fitted on, figures.
    """

    x: np.ndarray
    y: np.ndarray
    info: dict = field(default_factory=dict)

    def predict(self, score: np.ndarray) -> np.ndarray:
        """P(completed) for scores of shape (n,), float64 in [0, 1]."""
        return np.clip(np.interp(np.asarray(score, dtype=np.float64), self.x, self.y), 0.0, 1.0)

    def to_dict(self) -> dict:
        """JSON-ready form (stored in a model's metadata)."""
        return {"x": [float(v) for v in self.x], "y": [float(v) for v in self.y], **self.info}

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        """Inverse of :meth:`to_dict`."""
        info = {k: v for k, v in d.items() if k not in ("x", "y")}
        return cls(np.asarray(d["x"], dtype=np.float64), np.asarray(d["y"], dtype=np.float64), info)


def completed(labels: np.ndarray) -> np.ndarray:
    """Whether each graded label is a completed job (bool of the labels' shape)."""
    return np.asarray(labels) >= COMPLETED


def fit_calibration(score: np.ndarray, is_completed: np.ndarray, **info) -> Calibration:
    """Isotonic regression of completion on score.

    Parameters
    ----------
    score : float array of shape (n,)
        The scorer's scores (:meth:`Scorer.score`) on held-out pairs.
    is_completed : bool array of shape (n,)
        Whether each pair ended in a completed job.
    **info
        Provenance stored with the knots (e.g. ``fitted_on="valid"``, ``period=[...]``).

    Returns
    -------
    Calibration

    Raises
    ------
    ValueError
        For fewer than 2 pairs or mismatched lengths.
    """
    s = np.asarray(score, dtype=np.float64)
    y = np.asarray(is_completed, dtype=np.float64)
    if s.shape != y.shape or s.ndim != 1 or len(s) < 2:
        raise ValueError(f"calibration needs matching 1-D arrays of >= 2 pairs, got {s.shape} and {y.shape}")
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(s, y)
    return Calibration(
        np.asarray(iso.X_thresholds_, dtype=np.float64),
        np.asarray(iso.y_thresholds_, dtype=np.float64),
        {"method": "isotonic", "rows": int(len(s)), "base_rate": round(float(y.mean()), 6), **info},
    )


def reliability_curve(p: np.ndarray, is_completed: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    """Mean predicted probability against the observed completion rate, per equal-width bin.

    Parameters
    ----------
    p : float array of shape (n,)
        Predicted probabilities in [0, 1].
    is_completed : bool array of shape (n,)
    bins : int, default=10

    Returns
    -------
    list of dict
        One per non-empty bin: ``lo``, ``hi`` (bin edges), ``pairs``, ``mean_p``, ``rate``.
    """
    p = np.clip(np.asarray(p, dtype=np.float64), 0, 1)
    y = np.asarray(is_completed, dtype=np.float64)
    b = np.minimum((p * bins).astype(int), bins - 1)
    n = np.bincount(b, minlength=bins)
    sp = np.bincount(b, weights=p, minlength=bins)
    sy = np.bincount(b, weights=y, minlength=bins)
    return [
        {
            "lo": i / bins,
            "hi": (i + 1) / bins,
            "pairs": int(n[i]),
            "mean_p": round(sp[i] / n[i], 5),
            "rate": round(sy[i] / n[i], 5),
        }
        for i in range(bins)
        if n[i]
    ]


def expected_calibration_error(p: np.ndarray, is_completed: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: the pair-weighted mean of ``|mean_p - rate|`` over equal-width bins (0 = calibrated)."""
    if len(p) == 0:
        return 0.0
    p = np.clip(np.asarray(p, dtype=np.float64), 0, 1)
    y = np.asarray(is_completed, dtype=np.float64)
    b = np.minimum((p * bins).astype(int), bins - 1)
    n = np.bincount(b, minlength=bins)
    gap = np.abs(np.bincount(b, weights=p, minlength=bins) - np.bincount(b, weights=y, minlength=bins))
    return float(gap[n > 0].sum() / len(p))


def scorer_calibration(scorer) -> Calibration | None:
    """The calibration a scorer carries (a model's from its metadata, the heuristic's built in), or None."""
    cal = getattr(scorer, "calibration", None)
    if isinstance(cal, Calibration):
        return cal
    meta = getattr(scorer, "metadata", None)
    if isinstance(meta, dict) and isinstance(meta.get("calibration"), dict):
        return Calibration.from_dict(meta["calibration"])
    return None


def p_match(scorer, X: np.ndarray, score: np.ndarray | None = None) -> np.ndarray:
    """P(showing the pair ends in a completed job), from a scorer's calibration.

    Parameters
    ----------
    scorer : Scorer
        A model with a calibration in its artifact, or the heuristic.
    X : ndarray of shape (n_pairs, n_features)
        Features (unused when ``score`` is given).
    score : float array of shape (n_pairs,), optional
        The scorer's scores, when already computed.

    Returns
    -------
    float64 array of shape (n_pairs,) in [0, 1].

    Raises
    ------
    ValueError
        If the scorer has no calibration (a model trained before calibration existed: retrain it).
    """
    cal = scorer_calibration(scorer)
    if cal is None:
        raise ValueError(
            f"model {scorer.version} has no calibrated match probability; retrain it with this version"
        )
    return cal.predict(scorer.score(X) if score is None else score)


def calibration_report(raw_p: np.ndarray, calibrated_p: np.ndarray, labels: np.ndarray) -> dict:
    """ECE before and after calibration and the calibrated reliability curve, on labelled pairs.

    Parameters
    ----------
    raw_p : float array of shape (n,)
        The uncalibrated probability (the scorer's ``match_weight``).
    calibrated_p : float array of shape (n,)
        :func:`p_match`.
    labels : int array of shape (n,)
        Graded labels.
    """
    y = completed(labels)
    return {
        "pairs": int(len(y)),
        "completion_rate": round(float(y.mean()), 5) if len(y) else None,
        "ece_uncalibrated": round(expected_calibration_error(raw_p, y), 5),
        "ece": round(expected_calibration_error(calibrated_p, y), 5),
        "reliability": reliability_curve(calibrated_p, y),
    }
