"""The hand-weighted heuristic scorer: the cold-start scorer and a baseline for the learned ranker.

Used everywhere a model would be when no trained model exists (and it says so: its version string is
``heuristic-v1``). Scores lie in [0, 1]; the weights below sum to 1.
"""

from __future__ import annotations

import numpy as np

from features.registry import column
from models import heuristic_calibration
from models.calibration import Calibration

HEURISTIC_VERSION = "heuristic-v1"
WEIGHTS = {
    "trade_related_credit": 0.30,  # can do it (exact = 1, related trades partial)
    "trade_exact": 0.10,
    "years": 0.05,  # min(years, 10) / 10
    "preferred_trade": 0.10,  # wants to do it (unknown = half)
    "nearness": 0.20,  # 1 - min(distance / max_travel_km, 1)
    "rating": 0.10,  # (shrunk rating - 1) / 4
    "reliability": 0.10,  # 1 - shrunk no-show rate
    "wage": 0.05,  # offered / minimum, 0.5 -> 0, 1.5 -> 1 (unknown = half)
}


class HeuristicScorer:
    """Scores pairs from the feature matrix by a fixed, documented weighting."""

    version = HEURISTIC_VERSION
    is_model = False
    #: score -> P(completed), fitted on a simulated county (:mod:`models.heuristic_calibration`)
    calibration = Calibration(
        np.asarray(heuristic_calibration.X), np.asarray(heuristic_calibration.Y), heuristic_calibration.INFO
    )

    def score(self, X: np.ndarray) -> np.ndarray:
        """Match scores of the pairs of a feature matrix.

        Parameters
        ----------
        X : ndarray of shape (n_pairs, n_features)
            Features in :data:`features.registry.FEATURE_NAMES` order (float32 or float64).

        Returns
        -------
        ndarray of shape (n_pairs,), float64, in [0, 1].
        """
        parts = {
            "trade_related_credit": column(X, "trade_related_credit"),
            "trade_exact": column(X, "trade_exact"),
            "years": np.minimum(column(X, "trade_years"), 10.0) / 10.0,
            "preferred_trade": np.nan_to_num(column(X, "preferred_trade"), nan=0.5),
            "nearness": 1.0 - np.minimum(column(X, "distance_over_travel_limit"), 1.0),
            "rating": (column(X, "rating_shrunk") - 1.0) / 4.0,
            "reliability": 1.0 - column(X, "no_show_rate_shrunk"),
            "wage": np.nan_to_num(np.clip(column(X, "wage_vs_min") - 0.5, 0.0, 1.0), nan=0.5),
        }
        return sum(WEIGHTS[k] * v for k, v in parts.items())

    def match_weight(self, X: np.ndarray) -> np.ndarray:
        """Scores as assignment weights: :meth:`score`, already in [0, 1], shape (n_pairs,)."""
        return self.score(X)
