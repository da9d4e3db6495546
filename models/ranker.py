"""The learned ranker: a thin wrapper over LightGBM's LambdaRank (``lightgbm.LGBMRanker``).

Parameters are LightGBM's own, passed through; the wrapper adds the gigmatch defaults (NDCG@10 with
``lambdarank_truncation_level`` 13, early stopping on the validation queries) and the feature names.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from features.registry import FEATURE_NAMES
from gigmatch.core.threads import passive_openmp, thread_budget

passive_openmp()  # before LightGBM loads its OpenMP runtime: idle threads sleep instead of spinning
import lightgbm as lgb  # noqa: E402

# LightGBM's names for its thread count; a user's own value wins over thread_budget()
THREAD_PARAMS = ("num_threads", "num_thread", "nthread", "nthreads", "n_jobs")

_EVAL_X = "eval_X" in inspect.signature(lgb.LGBMRanker.fit).parameters
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "n_estimators": 400,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.9,
    "lambdarank_truncation_level": 13,
    "verbosity": -1,
}


class GigRanker:
    """Rank candidate workers for a job.

    Parameters
    ----------
    random_state : int, default=0
    early_stopping_rounds : int, default=50
    **params : LightGBM parameters, overriding :data:`DEFAULT_PARAMS`.
    """

    def __init__(self, *, random_state: int = 0, early_stopping_rounds: int = 50, **params: Any):
        self.random_state = random_state
        self.early_stopping_rounds = early_stopping_rounds
        self.params = {**DEFAULT_PARAMS, **params}
        self.model_: lgb.LGBMRanker | None = None
        self.best_iteration_: int | None = None  # trees used by predict; None = all (or LightGBM's best)
        self.feature_names_ = FEATURE_NAMES

    def fit(
        self, X: np.ndarray, y: np.ndarray, group: np.ndarray, *, eval_set=None, eval_group=None
    ) -> GigRanker:
        """Fit on rows grouped by query (``group``: sizes of consecutive queries, summing to n_rows)."""
        if X.shape[1] != len(FEATURE_NAMES):
            raise ValueError(
                f"X has {X.shape[1]} columns, expected {len(FEATURE_NAMES)} (features.registry.FEATURE_NAMES)"
            )
        if int(np.sum(group)) != len(y):
            raise ValueError(f"group sizes sum to {int(np.sum(group))}, expected n_rows = {len(y)}")
        threads = {} if any(k in self.params for k in THREAD_PARAMS) else {"num_threads": thread_budget()}
        self.model_ = lgb.LGBMRanker(random_state=self.random_state, **threads, **self.params)
        kwargs: dict[str, Any] = {}
        if eval_set is not None:
            # LightGBM >= 4.6 takes validation data as eval_X/eval_y and warns on eval_set, which
            # `gigmatch train` would print to users; older versions only know eval_set
            valid = (
                {"eval_X": (eval_set[0],), "eval_y": (eval_set[1],)} if _EVAL_X else {"eval_set": [eval_set]}
            )
            kwargs = {
                **valid,
                "eval_group": [eval_group],
                "eval_at": [10],
                "callbacks": [lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            }
        self.model_.fit(X, y, group=group, feature_name=list(FEATURE_NAMES), **kwargs)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Scores of shape (n_rows,), higher ranks first (not probabilities)."""
        if self.model_ is None:
            raise RuntimeError("GigRanker is not fitted; call fit first")
        # The booster directly: the sklearn wrapper's input checks cost as much as the trees on a
        # 2,000-row request. Column order is FEATURE_NAMES, checked at fit.
        best = getattr(self, "best_iteration_", None) or getattr(self.model_, "best_iteration_", None) or None
        return self.model_.booster_.predict(X, num_iteration=best)
