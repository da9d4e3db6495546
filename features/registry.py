"""The feature registry: every column of the pairwise feature matrix, by name, in column order.

The columns come from the feature families, one module each; each owns its :class:`Feature` records
and computes its columns by name:

============================  =====================================================================
:mod:`features.distance`      distance_km, within_travel_limit, distance_over_travel_limit,
                              distance_pct_in_pool
:mod:`features.skills`        trade_exact, trade_years, trade_related_credit, n_skills,
                              preferred_trade, open_to_all
:mod:`features.certificates`  certs_required, certs_satisfied_frac, restricted_without_licence
:mod:`features.reputation`    rating_shrunk, rating_count, jobs_completed, no_show_rate_shrunk,
                              apply_rate_shrunk, hire_rate_shrunk, shown_count,
                              employer_rating_shrunk, employer_blacklisted
:mod:`features.wages`         wage_vs_min, wage_vs_trade_median
:mod:`features.timing`        available_at_start, days_since_last_activity, days_since_registered
============================  =====================================================================

:data:`COLUMN_ORDER` fixes where each column sits in ``X``. A trained model records the names in
that order (and :func:`models.registry.feature_schema_hash` hashes the records in it), so a new
feature goes at the end. Look a column up with :func:`column`, never by position.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from features import certificates, distance, reputation, skills, timing, wages
from features.schema import Feature, FeatureFamily

__all__ = [
    "COLUMN_ORDER",
    "FAMILIES",
    "FEATURES",
    "FEATURE_INDEX",
    "FEATURE_NAMES",
    "Feature",
    "FeatureFamily",
    "column",
]

FAMILIES: tuple[FeatureFamily, ...] = (distance, skills, certificates, reputation, wages, timing)
"""The feature family modules; :func:`features.pairs.build_pairs` calls each one's ``compute``."""

COLUMN_ORDER: tuple[str, ...] = (
    "distance_km",
    "within_travel_limit",
    "distance_over_travel_limit",
    "distance_pct_in_pool",
    "trade_exact",
    "trade_years",
    "trade_related_credit",
    "n_skills",
    "preferred_trade",
    "certs_required",
    "certs_satisfied_frac",
    "restricted_without_licence",
    "open_to_all",
    "rating_shrunk",
    "rating_count",
    "jobs_completed",
    "no_show_rate_shrunk",
    "apply_rate_shrunk",
    "hire_rate_shrunk",
    "shown_count",
    "employer_rating_shrunk",
    "employer_blacklisted",
    "wage_vs_min",
    "wage_vs_trade_median",
    "available_at_start",
    "days_since_last_activity",
    "days_since_registered",
)
"""Column order of the feature matrix (part of every model artifact: append, never reorder)."""


def _assemble(families: tuple[FeatureFamily, ...], order: tuple[str, ...]) -> tuple[Feature, ...]:
    """The families' records in ``order``; raises ValueError unless each name is declared exactly once."""
    declared: dict[str, Feature] = {}
    for family in families:
        for f in family.FEATURES:
            if f.name in declared:
                raise ValueError(f"feature {f.name!r} is declared by more than one family")
            declared[f.name] = f
    undeclared, unplaced = sorted(set(order) - set(declared)), sorted(set(declared) - set(order))
    if len(set(order)) != len(order) or undeclared or unplaced:
        raise ValueError(
            f"COLUMN_ORDER must list every declared feature once; undeclared: {undeclared}, "
            f"unplaced: {unplaced}, listed twice: {sorted({n for n in order if order.count(n) > 1})}"
        )
    return tuple(declared[name] for name in order)


FEATURES: tuple[Feature, ...] = _assemble(FAMILIES, COLUMN_ORDER)
"""Every feature's record, in column order."""

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
"""Every feature's name, in column order (equal to :data:`COLUMN_ORDER`)."""

FEATURE_INDEX: Mapping[str, int] = MappingProxyType({name: i for i, name in enumerate(FEATURE_NAMES)})
"""Feature name -> column of the feature matrix (read-only)."""


def column(X: np.ndarray, name: str) -> np.ndarray:
    """One named column of a feature matrix, as float64.

    Parameters
    ----------
    X : ndarray of shape (n_pairs, n_features)
        A feature matrix with columns in :data:`FEATURE_NAMES` order (e.g. ``PairBatch.X``, float32).
    name : str
        A feature name from :data:`FEATURE_NAMES`.

    Returns
    -------
    ndarray of shape (n_pairs,), float64, in the feature's unit
        A view when ``X`` is float64 already, else a copy: do not write to it.

    Raises
    ------
    KeyError
        When ``name`` is not a feature.
    ValueError
        When ``X`` is not 2-D with one column per feature.
    """
    try:
        j = FEATURE_INDEX[name]
    except KeyError:
        raise KeyError(f"unknown feature {name!r}; features are {', '.join(FEATURE_NAMES)}") from None
    if X.ndim != 2 or X.shape[1] != len(FEATURE_NAMES):
        raise ValueError(f"X has shape {X.shape}, expected (n_pairs, {len(FEATURE_NAMES)})")
    return np.asarray(X[:, j], dtype=np.float64)
