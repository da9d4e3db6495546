"""Training sets from the event log: one row per shown pair, features as of the moment it was shown.

Queries are jobs. Rows are sorted so each job's rows are contiguous (LightGBM attaches rows to queries
by order, silently), jobs ordered by their first ``shown`` time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.encode import encode_market
from features.history import WorkerHistory
from features.pairs import build_pairs
from gigmatch.core.contract import Market
from models.labels import graded_labels


@dataclass
class TrainingSet:
    """Labelled pairs for a ranker: one row per shown (job, worker) pair, rows of a query contiguous.

    Attributes
    ----------
    X : ndarray of shape (n_rows, n_features), float32
        Features in :data:`features.registry.FEATURE_NAMES` order, as of the pair's ``shown`` time.
    y : ndarray of shape (n_rows,), int32
        Graded labels 0-4 (:func:`models.labels.graded_labels`).
    meta : DataFrame of n_rows rows
        ``job_id``, ``worker_id``, ``shown_ts``, ``label``, ``query`` (int, 0-based, contiguous),
        ``query_ts`` (the job's first shown time, market time) and, from the pair's first ``shown``
        event, ``position`` (float, NaN when not logged), ``policy`` and ``propensity`` (NaN when not
        logged).
    """

    X: np.ndarray
    y: np.ndarray
    meta: pd.DataFrame

    @property
    def positions(self) -> np.ndarray | None:
        """Each row's logged position, shape (n_rows,) float (NaN: not logged); None when no row has one."""
        pos = self.meta["position"].to_numpy(dtype=float) if "position" in self.meta else None
        return pos if pos is not None and np.isfinite(pos).any() else None

    @property
    def propensities(self) -> np.ndarray | None:
        """Each row's logged propensity, shape (n_rows,) float (NaN: not logged); None when no row has one."""
        prop = self.meta["propensity"].to_numpy(dtype=float) if "propensity" in self.meta else None
        return prop if prop is not None and np.isfinite(prop).any() else None

    @property
    def group_sizes(self) -> np.ndarray:
        """Rows per query, ndarray of shape (n_queries,), in query order (LightGBM's ``group``)."""
        return np.bincount(self.meta["query"].to_numpy())

    def subset(self, rows: np.ndarray) -> TrainingSet:
        """The rows at positions ``rows`` (int array of shape (n_subset,)), e.g. one part of
        :func:`time_split`, with ``query`` renumbered 0.. in order of first appearance.

        Queries stay contiguous only if ``rows`` keeps each query's rows together.
        """
        meta = self.meta.iloc[rows].reset_index(drop=True)
        meta["query"] = pd.factorize(meta["query"])[0]
        return TrainingSet(self.X[rows], self.y[rows], meta)


def build_training_set(market: Market) -> TrainingSet:
    """Label every shown pair and compute its features point-in-time (as of its ``shown`` event)."""
    labels = graded_labels(market.events)
    ev = market.events
    # where the pair stood when first shown, and who placed it there (logged feedback, issue #17)
    first_shown = (
        ev.loc[ev["event"] == "shown", ["job_id", "worker_id", "ts", "position", "policy", "propensity"]]
        .sort_values("ts", kind="stable")
        .drop_duplicates(["job_id", "worker_id"])
        .drop(columns="ts")
    )
    labels = labels.merge(first_shown, on=["job_id", "worker_id"], how="left")
    W, J = encode_market(market)
    H = WorkerHistory(market.events, W.ids)
    query_ts = labels.groupby("job_id")["shown_ts"].transform("min")
    labels = labels.assign(query_ts=query_ts).sort_values(["query_ts", "job_id", "worker_id"], kind="stable")
    labels = labels.reset_index(drop=True)
    j = pd.Index(J.ids).get_indexer(labels["job_id"])
    w = pd.Index(W.ids).get_indexer(labels["worker_id"])
    asof = labels["shown_ts"].to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
    batch = build_pairs(J, W, j, w, history=H, asof_s=asof)
    labels["query"] = pd.factorize(labels["job_id"])[0]
    return TrainingSet(batch.X, labels["label"].to_numpy(dtype=np.int32), labels)


def time_split(data: TrainingSet, valid_frac: float = 0.15, test_frac: float = 0.15):
    """Row indices (train, valid, test) split by the query's day: earlier days train, later days test.

    A job's rows always fall in one part. Day boundaries are chosen so that the parts hold about the
    requested shares of queries; every part holds at least one whole day when there are three or more.
    """
    day = data.meta["query_ts"].dt.floor("D").to_numpy()
    q_day = pd.Series(day).groupby(data.meta["query"].to_numpy()).first()
    days = np.sort(q_day.unique())
    if len(days) < 3:
        raise ValueError(f"a time split needs queries on at least 3 days, found {len(days)}")
    share = np.cumsum(q_day.value_counts().reindex(days).to_numpy()) / len(q_day)
    i_valid = int(np.clip(np.searchsorted(share, 1 - valid_frac - test_frac) + 1, 1, len(days) - 2))
    i_test = int(np.clip(np.searchsorted(share, 1 - test_frac) + 1, i_valid + 1, len(days) - 1))
    rows = np.arange(len(day))
    return (
        rows[day < days[i_valid]],
        rows[(day >= days[i_valid]) & (day < days[i_test])],
        rows[day >= days[i_test]],
    )
