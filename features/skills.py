"""Skill features: whether the worker can do the job's trade, for how long, and wants to.

One CSR lookup per pair (:func:`features.encode.csr_positions` on the worker's trade profile, the
union of skills, related trades and preferences) gives all of them.
"""

from __future__ import annotations

import numpy as np

from features.context import PairContext
from features.encode import csr_positions
from features.schema import Feature

FEATURES: tuple[Feature, ...] = (
    Feature("trade_exact", "flag", "{0, 1}", "0", "worker lists the job's trade"),
    Feature("trade_years", "years", "[0, 80]", "0 without the skill", "years in the job's trade"),
    Feature(
        "trade_related_credit",
        "credit",
        "[0, 1]",
        "0",
        "1 for the exact trade, else the best related-trade credit",
    ),
    Feature("n_skills", "count", "[0, inf)", "0", "number of trades the worker lists"),
    Feature(
        "preferred_trade",
        "flag",
        "{0, 1}",
        "NaN when the worker lists no preferences",
        "the job's trade is one the worker wants",
    ),
    Feature(
        "open_to_all",
        "flag",
        "{0, 1}",
        "0 for unknown trades",
        "entry-level trade that needs no listed skill",
    ),
)


def compute(ctx: PairContext) -> dict[str, np.ndarray]:
    """Skill columns for every pair.

    Parameters
    ----------
    ctx : PairContext
        Uses the job's trade and the worker's trade profile.

    Returns
    -------
    dict of str to ndarray of shape (n_pairs,)
        ``trade_exact`` (bool), ``trade_years`` (years, float64, 0 without the skill),
        ``trade_related_credit`` (credit in [0, 1], float64), ``n_skills`` (count, float64),
        ``preferred_trade`` (float64 0/1, NaN when the worker lists no preferences) and
        ``open_to_all`` (bool).
    """
    workers, worker, n = ctx.workers, ctx.worker, ctx.n_pairs
    pos = csr_positions(workers.profile, worker, ctx.jobs.trade[ctx.job])
    found = pos >= 0
    at = np.maximum(pos, 0)
    if workers.profile.nnz:
        years = np.where(found, workers.profile_years[at], np.nan)
        related = np.where(found, workers.profile_credit[at], 0.0)
        preferred_here = found & (workers.profile_preferred[at] > 0)
    else:
        years, related, preferred_here = np.full(n, np.nan), np.zeros(n), np.zeros(n, dtype=bool)
    return {
        "trade_exact": ~np.isnan(years),
        "trade_years": np.nan_to_num(years),
        "trade_related_credit": related,
        "n_skills": workers.n_skills[worker],
        "preferred_trade": np.where(workers.n_preferred[worker] > 0, preferred_here, np.nan),
        "open_to_all": ctx.jobs.open_to_all[ctx.job],
    }
