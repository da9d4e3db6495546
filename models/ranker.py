"""The learned ranker: a thin wrapper over LightGBM's LambdaRank (``lightgbm.LGBMRanker``).

Parameters are LightGBM's own, passed through; the wrapper adds the gigmatch defaults (NDCG@10 with
``lambdarank_truncation_level`` 13, early stopping on the validation queries) and the feature names.

**Position debiasing** (issue #17). Given each row's position in the list that was shown,
:meth:`GigRanker.fit` hands them to LightGBM's unbiased LambdaRank (``lightgbm.Dataset(position=...)``,
LightGBM >= 4.1; Unbiased LambdaMART, Hu et al., WWW'19): LightGBM learns one bias factor per position
jointly with the trees (added to each row's score inside the LambdaRank gradients), so the trees learn
relevance given examination rather than the old ranking's position effect. The sklearn wrapper has no
``position`` argument, so this path trains with ``lightgbm.train`` on the same parameters (LightGBM
reads the sklearn names as aliases). Rows without a position share one bucket of their own (position 0).

**When to stop the debiased fit.** NDCG@10 on the validation rows' logged grades is the wrong
yardstick for it: a logged grade is 0 whenever the worker never looked at the offer, so it rewards
the old ranking's position effect, the very thing the correction removes, and it stopped the
debiased fit after 20-40 trees where the unbiased optimum lies at 60-180 (README). So, when the
training rows carry logged propensities, the examination curve is estimated from them
(:func:`models.examination.estimate_examination`: inverse-propensity ratios of the application rate
at each position to position 1) and early stopping watches the validation rows' mean DCG@10 with each
gain weighted by ``1 / theta`` of its position (:func:`models.metrics.ips_dcg_at_k`), an unbiased
estimate of the mean DCG@10 had every offer been examined. Without propensities (or positions on the
validation rows) it falls back to the logged grades' NDCG@10. ``stopping_`` records which, and
``examination_`` the curve. The naive fit (no ``position``) and every log without positions train
exactly as before.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from features.registry import FEATURE_NAMES
from gigmatch.core.threads import passive_openmp, thread_budget
from models.examination import estimate_examination, examination_weights
from models.metrics import ips_dcg_at_k

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
        self.debiased_ = False  # trained with LightGBM's position-bias correction
        self.stopping_: str | None = None  # debiased fits: the early-stopping criterion used
        self.examination_: np.ndarray | None = None  # debiased fits: the estimated examination curve
        self.feature_names_ = FEATURE_NAMES

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        group: np.ndarray,
        *,
        eval_set=None,
        eval_group=None,
        position: np.ndarray | None = None,
        propensity: np.ndarray | None = None,
        eval_position: np.ndarray | None = None,
    ) -> GigRanker:
        """Fit on rows grouped by query (``group``: sizes of consecutive queries, summing to n_rows).

        Parameters
        ----------
        X : ndarray of shape (n_rows, n_features)
            Features in :data:`features.registry.FEATURE_NAMES` order.
        y : ndarray of shape (n_rows,), int
            Graded labels.
        group : ndarray of shape (n_queries,), int
            Rows per consecutive query.
        eval_set : tuple (X_valid, y_valid), optional
            Validation rows; their NDCG@10 picks the number of trees (early stopping).
        eval_group : ndarray of int, optional
            Rows per consecutive validation query.
        position : ndarray of shape (n_rows,), float or int, optional
            Each row's 1-based position in the list shown (NaN: unknown); with it LightGBM's
            position-bias correction is used (see the module docstring). None: the naive fit.
        propensity : ndarray of shape (n_rows,), float, optional
            With ``position``: the logging policy's propensity of each row, from which the examination
            curve is estimated for early stopping on the inverse-examination-weighted DCG@10.
        eval_position : ndarray of shape (n_valid_rows,), optional
            With ``position`` and ``propensity``: the validation rows' positions.

        Returns
        -------
        GigRanker, fitted.
        """
        if X.shape[1] != len(FEATURE_NAMES):
            raise ValueError(
                f"X has {X.shape[1]} columns, expected {len(FEATURE_NAMES)} (features.registry.FEATURE_NAMES)"
            )
        if int(np.sum(group)) != len(y):
            raise ValueError(f"group sizes sum to {int(np.sum(group))}, expected n_rows = {len(y)}")
        if position is not None:
            return self._fit_debiased(X, y, group, position, eval_set, eval_group, propensity, eval_position)
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

    def _fit_debiased(
        self, X, y, group, position, eval_set, eval_group, propensity=None, eval_position=None
    ) -> GigRanker:
        """LambdaRank with LightGBM's position-bias correction (``lightgbm.train``; see the module)."""
        position = np.asarray(position, dtype=float)
        if len(position) != len(y):
            raise ValueError(f"position has {len(position)} rows, expected n_rows = {len(y)}")
        pos = np.where(np.isfinite(position), position, 0).astype(np.int32)  # 0: position unknown
        threads = {} if any(k in self.params for k in THREAD_PARAMS) else {"num_threads": thread_budget()}
        params = {
            **threads,
            **self.params,
            "random_state": self.random_state,
            "metric": "ndcg",
            "eval_at": [10],
        }
        params.setdefault("lambdarank_position_bias_regularization", 0.0)
        rounds = int(params.pop("n_estimators", 100))
        curve = None
        if propensity is not None:
            query = np.repeat(np.arange(len(group)), np.asarray(group, dtype=np.int64))
            curve = estimate_examination(query, position, np.asarray(propensity, dtype=float), y)
        train = lgb.Dataset(X, y, group=group, position=pos, feature_name=list(FEATURE_NAMES))
        valid_sets, callbacks, feval, stopping = [], [], None, None
        if eval_set is not None:
            # validation needs no positions in LightGBM: early stopping reads the metric below
            valid_sets = [lgb.Dataset(eval_set[0], eval_set[1], group=eval_group, reference=train)]
            callbacks = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
            stopping = "ndcg@10"  # of the logged grades
            if curve is not None and eval_position is not None and len(eval_position) == len(eval_set[1]):
                feval = _ips_dcg_metric(
                    np.repeat(np.arange(len(eval_group)), np.asarray(eval_group, dtype=np.int64)),
                    np.asarray(eval_set[1]),
                    examination_weights(eval_position, curve),
                )
                params["metric"] = "None"  # only feval: early stopping watches the weighted DCG@10
                stopping = "ips-dcg@10"
        booster = lgb.train(
            params, train, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks, feval=feval
        )
        self.model_ = _TrainedBooster(booster)
        self.best_iteration_ = booster.best_iteration or None
        self.debiased_ = True
        self.stopping_ = stopping
        self.examination_ = curve
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Scores of shape (n_rows,), higher ranks first (not probabilities)."""
        if self.model_ is None:
            raise RuntimeError("GigRanker is not fitted; call fit first")
        # The booster directly: the sklearn wrapper's input checks cost as much as the trees on a
        # 2,000-row request. Column order is FEATURE_NAMES, checked at fit.
        best = getattr(self, "best_iteration_", None) or getattr(self.model_, "best_iteration_", None) or None
        return self.model_.booster_.predict(X, num_iteration=best)


def _ips_dcg_metric(query: np.ndarray, y: np.ndarray, weight: np.ndarray):
    """A LightGBM ``feval``: mean DCG@10 of the validation rows with inverse-examination-weighted gains.

    Parameters
    ----------
    query, y, weight : ndarray of shape (n_valid_rows,)
        Query id, logged grade and gain weight of each validation row (:func:`models.metrics.ips_dcg_at_k`).
    """

    def metric(preds: np.ndarray, _data: lgb.Dataset) -> tuple[str, float, bool]:
        return "ips_dcg@10", ips_dcg_at_k(query, y, preds, weight, 10), True

    return metric


class _TrainedBooster:
    """What :class:`GigRanker` reads of a fitted ``LGBMRanker`` (``booster_``, ``best_iteration_``), for
    a model trained with ``lightgbm.train`` (the position-debiased path)."""

    def __init__(self, booster: lgb.Booster):
        self.booster_ = booster
        self.best_iteration_ = booster.best_iteration or None
