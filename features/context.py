"""What several feature families share about a batch of pairs, computed once per batch.

:class:`PairContext` carries the pair indices, the as-of and start times, the great-circle distance
and the worker's event history as of each pair's time. :func:`features.pairs.build_pairs` builds
one with :meth:`PairContext.build` and hands it to every family's ``compute``; a value only one
family needs stays in that family's module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from features.encode import SECONDS_PER_DAY, JobTable, WorkerTable
from features.history import WorkerHistory
from gigmatch.core.geo import haversine_rad_km
from gigmatch.core.times import market_now

T = TypeVar("T")

HISTORY_STATS = ("completed", "no_shows", "rating_sum", "rating_count", "shown", "applied", "hired")
"""Event counts :attr:`PairContext.history` holds besides ``last_activity_s``."""


@dataclass(frozen=True, eq=False)
class PairContext:
    """The pairs ``(job[i], worker[i])`` of one :func:`~features.pairs.build_pairs` call.

    Build with :meth:`build`. Every array has shape ``(n_pairs,)``.

    Attributes
    ----------
    jobs : JobTable
    workers : WorkerTable
        The encoded tables the indices refer to.
    job, worker : ndarray of int64
        Row indices into ``jobs`` and ``workers``.
    asof_s : ndarray of float64
        The time each pair's features describe, market seconds since epoch (never NaN).
    start_s : ndarray of float64
        The job's start time, market seconds since epoch; the as-of time when the job gives none.
    start_day : ndarray of float64
        ``floor(start_s / 86400)``: the whole day number certificates are checked against.
    distance_km : ndarray of float64
        Great-circle distance job site - worker home, km.
    pool : ndarray of int
        Candidate pool of each pair (``distance_pct_in_pool`` ranks within it).
    history : dict of str to ndarray of float64
        The worker's event history strictly before ``asof_s``: the counts named in
        :data:`HISTORY_STATS` (zeros without a history) and ``last_activity_s`` (market seconds, NaN
        when never active or without a history).
    """

    jobs: JobTable
    workers: WorkerTable
    job: np.ndarray
    worker: np.ndarray
    asof_s: np.ndarray
    start_s: np.ndarray
    start_day: np.ndarray
    distance_km: np.ndarray
    pool: np.ndarray
    history: dict[str, np.ndarray]
    _derived: dict[Any, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        jobs: JobTable,
        workers: WorkerTable,
        job: np.ndarray,
        worker: np.ndarray,
        *,
        history: WorkerHistory | None = None,
        asof_s: np.ndarray | float | None = None,
        group: np.ndarray | None = None,
    ) -> PairContext:
        """Compute the shared values for pairs ``(job[i], worker[i])``.

        Parameters
        ----------
        jobs, workers : JobTable, WorkerTable
            Encoded tables.
        job, worker : array-like of int, shape (n_pairs,)
            Row indices into ``jobs`` and ``workers``.
        history : WorkerHistory, optional
            Event-derived history; None means the snapshot columns only.
        asof_s : float or array-like of shape (n_pairs,), optional
            Market seconds since epoch. Default: each job's ``posted_at``; NaN (either way) means now.
        group : array-like of int, shape (n_pairs,), optional
            Candidate pool per pair; default ``job``.

        Returns
        -------
        PairContext
        """
        job = np.asarray(job, dtype=np.int64)
        worker = np.asarray(worker, dtype=np.int64)
        n = len(job)
        if asof_s is None:
            asof = jobs.posted_s[job]
        else:
            asof = np.broadcast_to(np.asarray(asof_s, dtype=np.float64), (n,)).copy()
        asof = np.where(np.isnan(asof), market_now(), asof)
        start_s = np.where(np.isnan(jobs.start_s[job]), asof, jobs.start_s[job])
        distance = haversine_rad_km(
            jobs.lat_rad[job],
            jobs.lon_rad[job],
            jobs.cos_lat[job],
            workers.lat_rad[worker],
            workers.lon_rad[worker],
            workers.cos_lat[worker],
        )
        if history is not None:
            stats = history.asof(worker, asof)
        else:
            zero = np.zeros(n)
            stats = {name: zero for name in HISTORY_STATS}
            stats["last_activity_s"] = np.full(n, np.nan)
        return cls(
            jobs=jobs,
            workers=workers,
            job=job,
            worker=worker,
            asof_s=asof,
            start_s=start_s,
            start_day=np.floor(start_s / SECONDS_PER_DAY),
            distance_km=distance,
            pool=job if group is None else np.asarray(group),
            history=stats,
        )

    @property
    def n_pairs(self) -> int:
        """Number of pairs."""
        return len(self.job)

    def once(self, compute: Callable[[PairContext], T]) -> T:
        """``compute(self)``, computed on the first call only and shared by later callers.

        For intermediate results that a family and the eligibility flags both use (e.g.
        :func:`features.certificates.check`), so that neither computes them twice.

        Parameters
        ----------
        compute : callable taking a PairContext
            A module-level function (it is the cache key).

        Returns
        -------
        Whatever ``compute`` returns.
        """
        if compute not in self._derived:
            self._derived[compute] = compute(self)
        return self._derived[compute]


def is_constant(a: np.ndarray) -> bool:
    """Whether every element of ``a`` (shape (n,)) is equal; True when empty.

    Checks the ends first, so a batch with more than one value usually answers in O(1).
    """
    return len(a) == 0 or bool(a[0] == a[-1] and (a == a[0]).all())
