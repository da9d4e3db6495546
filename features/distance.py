"""Distance features: job site to worker's home, against the travel limit and the other candidates.

The distance itself is computed once per batch in :class:`~features.context.PairContext` (the
eligibility flags use it too).
"""

from __future__ import annotations

import numpy as np

from features.context import PairContext, is_constant
from features.schema import Feature

FEATURES: tuple[Feature, ...] = (
    Feature(
        "distance_km", "km", "[0, 20000]", "never missing", "great-circle distance job site - worker home"
    ),
    Feature("within_travel_limit", "flag", "{0, 1}", "never missing", "distance <= worker's max_travel_km"),
    Feature("distance_over_travel_limit", "ratio", "[0, inf)", "never missing", "distance / max_travel_km"),
    Feature(
        "distance_pct_in_pool",
        "fraction",
        "[0, 1]",
        "0 for a pool of one",
        "distance rank among the job's candidates (0 = nearest, ties share the lower rank)",
    ),
)


def compute(ctx: PairContext) -> dict[str, np.ndarray]:
    """Distance columns for every pair.

    Parameters
    ----------
    ctx : PairContext
        Uses ``distance_km``, ``pool`` and the worker's ``max_travel_km``.

    Returns
    -------
    dict of str to ndarray of shape (n_pairs,)
        ``distance_km`` (km, float64), ``within_travel_limit`` (bool), ``distance_over_travel_limit``
        (ratio, float64; the limit is floored at 1 m) and ``distance_pct_in_pool`` (fraction in
        [0, 1], float64).
    """
    d = ctx.distance_km
    travel = ctx.workers.max_travel_km[ctx.worker]
    return {
        "distance_km": d,
        "within_travel_limit": d <= travel,
        "distance_over_travel_limit": d / np.maximum(travel, 1e-3),
        "distance_pct_in_pool": _pool_percentile(ctx.pool, d),
    }


def _pool_percentile(group: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Distance rank within each group / (group size - 1); ties take the lower rank.

    Distances are compared in whole metres, so the result does not depend on pair order or batching.

    Parameters
    ----------
    group : ndarray of non-negative int, shape (n_pairs,)
        Candidate pool of each pair.
    distance : ndarray of float64, shape (n_pairs,)
        Distances, km.

    Returns
    -------
    ndarray of float64, shape (n_pairs,), in [0, 1]; 0 for a pool of one.
    """
    n = len(group)
    if n == 0:
        return np.zeros(0)
    metres = np.minimum(np.round(distance * 1000.0), 2**25 - 1).astype(np.int64)
    if is_constant(group):  # one pool (the API's single-job path): a plain rank, no group bookkeeping
        order = np.argsort(metres)
        d = metres[order]
        rank = np.maximum.accumulate(np.where(np.r_[True, d[1:] != d[:-1]], np.arange(n), 0))
        out = np.empty(n)
        out[order] = rank / max(n - 1, 1)
        return out
    # Group ids are non-negative ints (job rows).
    g_dense = group.astype(np.int64) - int(group.min())
    key = g_dense << 25 | metres
    order = np.argsort(key)
    g, d = g_dense[order], metres[order]
    new_group = np.r_[True, g[1:] != g[:-1]]
    start = np.maximum.accumulate(np.where(new_group, np.arange(n), 0))
    size = np.diff(np.r_[np.flatnonzero(new_group), n])
    new_value = new_group | np.r_[True, d[1:] != d[:-1]]
    rank = np.maximum.accumulate(np.where(new_value, np.arange(n), 0)) - start
    denom = np.repeat(np.maximum(size - 1, 1), size)
    out = np.empty(n)
    out[order] = rank / denom
    return out
