"""Point-in-time worker history from the event log.

Everything derived from events (ratings, completions, no-shows, last activity) is counted strictly
*before* an as-of time, so a training pair sees only what the platform knew when it showed the job.
The ``workers`` snapshot columns (``rating_avg``, ``rating_count``, ``jobs_completed``, ``no_shows``)
are history from before the log starts and are added on top.

All relevant events live in one array of keys ``worker * 2**34 + ts_seconds``, sorted, with cumulative
sums of each statistic beside it; a query for many (worker, as-of) pairs is one ``searchsorted`` plus
gathers (each worker's first key position is precomputed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gigmatch.core.contract import EVENT_TYPES

_SHIFT = np.int64(2**34)  # > seconds until year 2514
ACTIVITY_EVENTS = ("declined", "applied", "completed")  # things the worker did, not the employer
_STATS = (
    "completed",
    "no_shows",
    "rating_sum",
    "rating_count",
    "shown",
    "applied",
    "hired",
    "activity",
)  # cumulative columns, in the order of the stacked values below


class WorkerHistory:
    """Event-derived worker statistics, queryable as of any time.

    Parameters
    ----------
    events : DataFrame
        Validated ``events`` table.
    worker_ids : array of shape (n_workers,)
        The worker order of the :class:`features.encode.WorkerTable` the queries refer to. Events of
        other workers are ignored.
    """

    def __init__(self, events: pd.DataFrame, worker_ids: np.ndarray):
        self.worker_ids = np.asarray(worker_ids)
        self._index = pd.Index(self.worker_ids)
        keys, values = self._rows(events)
        order = np.argsort(keys, kind="stable")
        self._set(keys[order], values[order])

    def extended(self, events: pd.DataFrame, worker_ids: np.ndarray | None = None) -> WorkerHistory:
        """A new history with ``events`` (logged after this one's) added; this one is unchanged.

        ``worker_ids``, when given, is the worker order with new workers appended (it must start with
        this history's); ``events`` then also carries the new workers' events from the whole log,
        which this history ignored as unknown. Equal to ``WorkerHistory(all_events, worker_ids)`` bit
        for bit (tests prove it), at the cost of parsing only those events and one O(n) merge.
        """
        out = object.__new__(WorkerHistory)
        if worker_ids is None:
            out.worker_ids, out._index = self.worker_ids, self._index
        else:
            worker_ids = np.asarray(worker_ids)
            n = len(self.worker_ids)
            if len(worker_ids) < n or not np.array_equal(worker_ids[:n], self.worker_ids):
                raise ValueError("worker_ids must start with this history's worker order")
            out.worker_ids, out._index = worker_ids, pd.Index(worker_ids)
        keys, values = out._rows(events)
        order = np.argsort(keys, kind="stable")
        # side="right": an old event sorts before a new one with the same key, as in a full rebuild
        at = np.searchsorted(self._keys, keys[order], side="right")
        out._set(np.insert(self._keys, at, keys[order]), np.insert(self._values, at, values[order], axis=0))
        return out

    def _rows(self, events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(keys, stat rows) of the events that count, in the events' order."""
        if len(events):
            w = self._index.get_indexer(events["worker_id"])
            # event names as small integer codes: comparisons over the whole log stay cheap
            code = pd.Categorical(events["event"], categories=EVENT_TYPES).codes
            ts = events["ts"].to_numpy(dtype="datetime64[ns]").astype("int64") // 1_000_000_000
            rating = events["rating"].to_numpy(dtype=np.float64)
        else:
            w, code = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int8)
            ts, rating = np.zeros(0, dtype=np.int64), np.zeros(0)
        kind = {name: code == i for i, name in enumerate(EVENT_TYPES)}
        is_done, is_noshow, is_rated = kind["completed"], kind["no_show"], kind["rated"]
        is_shown, is_applied, is_hired = kind["shown"], kind["applied"], kind["hired"]
        is_act = np.logical_or.reduce([kind[name] for name in ACTIVITY_EVENTS])
        keep = (w >= 0) & (is_done | is_noshow | is_rated | is_act | is_shown | is_hired)
        keys = w[keep].astype(np.int64) * _SHIFT + ts[keep]
        values = np.stack(
            [
                is_done,
                is_noshow,
                np.where(is_rated, np.nan_to_num(rating), 0.0),
                is_rated,
                is_shown,
                is_applied,
                is_hired,
                is_act,
            ],
            axis=1,
        ).astype(np.float64)[keep]
        return keys, values

    def _set(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Install sorted keys and their stat rows, and derive the query arrays."""
        n_workers = len(self.worker_ids)
        self._keys, self._values = keys, values
        # one (n_events + 1, n_stats) array; queries gather whole rows with np.take, which is several
        # times faster than fancy indexing of rows or one gather per statistic
        self._cum = np.vstack([np.zeros((1, len(_STATS))), np.cumsum(values, axis=0)])
        # Key of the latest activity event at or before each position (-1 before any).
        act_keys = np.where(values[:, _STATS.index("activity")] > 0, keys, -1)
        self._last_act = np.r_[-1, np.maximum.accumulate(act_keys)] if len(act_keys) else np.array([-1])
        self._first = np.searchsorted(keys, np.arange(n_workers + 1, dtype=np.int64) * _SHIFT)
        self._base = np.take(self._cum, self._first[:-1], axis=0)  # (n_workers, n_stats) at segment starts
        self._max_ts = int((keys % _SHIFT).max()) if len(keys) else -1
        self.n_events = len(keys)

    @classmethod
    def empty(cls, worker_ids: np.ndarray) -> WorkerHistory:
        """A history with no events for ``worker_ids`` (array of shape (n_workers,)): every count is 0."""
        return cls(
            pd.DataFrame({"worker_id": [], "ts": pd.to_datetime([]), "event": [], "rating": []}), worker_ids
        )

    def asof(self, worker: np.ndarray, asof_s: np.ndarray) -> dict[str, np.ndarray]:
        """Statistics strictly before ``asof_s`` (float seconds since epoch), each of shape (n_pairs,).

        Returns ``completed``, ``no_shows``, ``rating_sum``, ``rating_count``, ``shown``, ``applied``,
        ``hired`` and ``last_activity_s``
        (NaN when the worker did nothing before the as-of time).
        """
        worker = np.asarray(worker, dtype=np.int64)
        asof_s = np.broadcast_to(np.asarray(asof_s, dtype=np.float64), worker.shape)
        base = worker * _SHIFT
        if asof_s.size and float(asof_s.min()) > self._max_ts:
            hi = self._first[worker + 1]  # serving "now": every logged event counts, no search needed
        else:
            hi = np.searchsorted(self._keys, base + np.ceil(asof_s).astype(np.int64), side="left")
        diff = np.take(self._cum, hi, axis=0) - np.take(self._base, worker, axis=0)
        out = {name: diff[:, k] for k, name in enumerate(_STATS[:-1])}
        last_key = self._last_act[hi]
        out["last_activity_s"] = np.where(last_key >= base, (last_key - base).astype(np.float64), np.nan)
        return out
