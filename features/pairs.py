"""The one function that computes pairwise features and eligibility: :func:`build_pairs`.

:func:`build_pairs` turns (job, worker) index pairs into a feature matrix, distances and the
eligibility reason codes, all vectorised over pairs. Training, offline scoring, batch assignment and
the API all call it; nothing else computes features.

It builds a :class:`~features.context.PairContext` (what several families share, computed once),
asks every feature family of :data:`features.registry.FAMILIES` for its named columns, and writes
them into ``X`` by name in :data:`~features.registry.FEATURE_NAMES` order. The records (name, unit,
range, missing-value rule) live with their families and are assembled in :mod:`features.registry`;
ratios with a missing side are NaN (LightGBM routes NaN natively; the heuristic scorer treats NaN as
neutral).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features import certificates
from features.context import PairContext
from features.eligibility import Reason, constraint_flags, first_reason
from features.encode import JobTable, WorkerTable
from features.history import WorkerHistory
from features.registry import FAMILIES, FEATURE_NAMES, FEATURES, Feature, column

__all__ = ["FEATURES", "FEATURE_NAMES", "Feature", "PairBatch", "build_pairs"]


@dataclass
class PairBatch:
    """Features and eligibility for a batch of pairs.

    Attributes
    ----------
    X : ndarray of shape (n_pairs, n_features), float32, Fortran order
        Columns in :data:`~features.registry.FEATURE_NAMES` order; read one with :meth:`column`.
    distance_km : ndarray of shape (n_pairs,), float64
        Great-circle distance job site - worker home, km.
    reason : ndarray of shape (n_pairs,), int8
        :class:`~features.eligibility.Reason` of the first failing constraint (0 = eligible).
    flags : ndarray of shape (n_pairs,), int16
        Every failing constraint as a bit set (bit ``code - 1``).
    missing_cert : ndarray of shape (n_pairs,), int64
        Index into ``jobs.req_code`` of the first missing or expired required certificate, -1 when
        none.
    """

    X: np.ndarray
    distance_km: np.ndarray
    reason: np.ndarray
    flags: np.ndarray
    missing_cert: np.ndarray

    @property
    def eligible(self) -> np.ndarray:
        """ndarray of bool, shape (n_pairs,): no constraint fails."""
        return self.reason == 0

    def column(self, name: str) -> np.ndarray:
        """Feature ``name`` for every pair: ndarray of float64, shape (n_pairs,).

        See :func:`features.registry.column`.
        """
        return column(self.X, name)


def build_pairs(
    jobs: JobTable,
    workers: WorkerTable,
    job: np.ndarray,
    worker: np.ndarray,
    *,
    history: WorkerHistory | None = None,
    asof_s: np.ndarray | float | None = None,
    max_km: np.ndarray | float | None = None,
    group: np.ndarray | None = None,
) -> PairBatch:
    """Compute features and eligibility for pairs ``(job[i], worker[i])``.

    Parameters
    ----------
    jobs, workers : JobTable, WorkerTable
        Encoded tables.
    job, worker : int arrays of shape (n_pairs,)
        Row indices into ``jobs`` and ``workers``.
    history : WorkerHistory, optional
        Event-derived history; None means the snapshot columns only.
    asof_s : float or array of shape (n_pairs,), seconds since epoch, optional
        The time the features describe (the moment the job was shown). Event history counts strictly
        before it. Default: each job's ``posted_at``, or now when that is missing.
    max_km : float or array of shape (n_pairs,), optional
        A request's radius in km (``BEYOND_RADIUS`` beyond it).
    group : int array of shape (n_pairs,), optional
        Candidate pool per pair for ``distance_pct_in_pool``; default ``job``.

    Returns
    -------
    PairBatch
        ``X`` of shape (n_pairs, len(FEATURE_NAMES)), float32, Fortran order, and the per-pair
        distance and eligibility arrays.
    """
    ctx = PairContext.build(jobs, workers, job, worker, history=history, asof_s=asof_s, group=group)
    columns: dict[str, np.ndarray] = {}
    for family in FAMILIES:  # ~6 families, each vectorised over pairs
        columns.update(family.compute(ctx))
    n = ctx.n_pairs
    X = np.empty((n, len(FEATURE_NAMES)), dtype=np.float32, order="F")  # column writes stay contiguous
    for i, name in enumerate(FEATURE_NAMES):
        X[:, i] = columns[name]

    certs = certificates.check(ctx)  # computed by the certificates family above; shared, not redone
    d = ctx.distance_km
    failing = {
        Reason.EMPLOYER_BLACKLISTED: columns["employer_blacklisted"],
        Reason.CERTIFICATE_MISSING: certs.missing,
        Reason.CERTIFICATE_EXPIRED: certs.expired,
        Reason.NO_MATCHING_SKILL: ~columns["open_to_all"] & (columns["trade_related_credit"] <= 0),
        Reason.BEYOND_TRAVEL_LIMIT: ~columns["within_travel_limit"],
    }
    if max_km is not None:
        failing[Reason.BEYOND_RADIUS] = d > np.asarray(max_km, dtype=np.float64)
    flags = constraint_flags(failing, n)
    return PairBatch(
        X=X, distance_km=d, reason=first_reason(flags), flags=flags, missing_cert=certs.first_bad
    )
