"""Wage features: the offered daily wage against the worker's minimum and the trade's local market.

The trade's median wage is a point-in-time market statistic (:class:`features.market.MarketStats`,
jobs of the trade posted in the 90 days up to each pair's as-of time).
"""

from __future__ import annotations

import numpy as np

from features.context import PairContext, is_constant
from features.encode import JobTable
from features.schema import Feature

FEATURES: tuple[Feature, ...] = (
    Feature(
        "wage_vs_min",
        "ratio",
        "[0, inf)",
        "NaN when either side is missing",
        "offered daily wage / worker's minimum",
    ),
    Feature(
        "wage_vs_trade_median",
        "ratio",
        "[0, inf)",
        "NaN when either side is missing",
        "offered daily wage / the trade's local median",
    ),
)


def compute(ctx: PairContext) -> dict[str, np.ndarray]:
    """Wage columns for every pair.

    Parameters
    ----------
    ctx : PairContext
        Uses the job's daily wage and trade, the worker's minimum daily wage and ``asof_s``.

    Returns
    -------
    dict of str to ndarray of shape (n_pairs,)
        ``wage_vs_min`` and ``wage_vs_trade_median`` (ratios of yuan per day, float64; NaN where
        either side is missing, zero or infinite).
    """
    wage = ctx.jobs.daily_wage[ctx.job]
    with np.errstate(divide="ignore", invalid="ignore"):
        wage_min = wage / ctx.workers.min_daily_wage[ctx.worker]
        wage_med = wage / _trade_median_wage(ctx.jobs, ctx.job, ctx.asof_s)
    return {
        "wage_vs_min": np.where(np.isfinite(wage_min), wage_min, np.nan),
        "wage_vs_trade_median": np.where(np.isfinite(wage_med), wage_med, np.nan),
    }


def _trade_median_wage(jobs: JobTable, job: np.ndarray, asof: np.ndarray) -> np.ndarray:
    """The job's trade median wage (yuan per day) as of each pair's time, shape (n_pairs,).

    Once per job when the as-of time is shared (serving and batch runs), else per pair (training).
    """
    if is_constant(asof) and len(job):
        if is_constant(job):  # one job (the API): one lookup
            return np.full(len(job), jobs.stats.median_wage(jobs.trade_code[job[:1]], asof[0])[0])
        if len(job) >= len(jobs):  # a batch over many jobs: every job once, then a gather
            return jobs.stats.median_wage(jobs.trade_code, asof[0])[job]
        jobs_u, inverse = np.unique(job, return_inverse=True)
        return jobs.stats.median_wage(jobs.trade_code[jobs_u], asof[0])[inverse]
    return jobs.stats.median_wage(jobs.trade_code[job], asof)
