"""Point-in-time market statistics: what the local market looked like as of a pair's time.

A market statistic is a feature input too, so it obeys the same rule as event history: it is computed
as of the pair's time from what was known then. Today there is one: the trade's local median daily
wage, over the jobs of that trade *posted* in the trailing ``WAGE_WINDOW_DAYS`` (90) days up to the
as-of time (a job posted after it never counts; the job being scored counts from its posting on). A job without ``posted_at`` or ``daily_wage`` does not count (the service
stamps ``posted_at`` on jobs it stores). Training (as of each pair's ``shown`` event), offline
scoring, the batch run and the API (as of now) all call :meth:`MarketStats.median_wage`, so adding
later jobs to a market never changes an earlier pair's features (``tests/test_features.py`` proves
it bit for bit).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SECONDS_PER_DAY = 86_400.0
WAGE_WINDOW_DAYS = 90.0


class MarketStats:
    """Per-trade posting history, queryable as of any time.

    Parameters
    ----------
    trade : array of shape (n_jobs,), object
        Trade code of each job.
    posted_s : array of shape (n_jobs,), float
        Posting time, market seconds since epoch (NaN: unknown, not counted).
    daily_wage : array of shape (n_jobs,), float
        Offered daily wage in yuan (NaN: not given, not counted).
    window_days : float, default=90
        Length of the trailing window, days.
    """

    def __init__(
        self,
        trade: np.ndarray,
        posted_s: np.ndarray,
        daily_wage: np.ndarray,
        *,
        window_days: float = WAGE_WINDOW_DAYS,
    ):
        self.window_s = float(window_days) * SECONDS_PER_DAY
        trade = np.asarray(trade, dtype=object)
        posted_s = np.asarray(posted_s, dtype=np.float64)
        daily_wage = np.asarray(daily_wage, dtype=np.float64)
        keep = np.isfinite(posted_s) & np.isfinite(daily_wage)
        codes, trade_id = np.unique(trade[keep].astype(str), return_inverse=True)
        order = np.lexsort((daily_wage[keep], posted_s[keep], trade_id))  # by trade, then time (then wage)
        self._codes = {c: i for i, c in enumerate(codes)}
        self._posted = posted_s[keep][order]
        self._wage = daily_wage[keep][order]
        self._start = np.searchsorted(trade_id[order], np.arange(len(codes) + 1))
        self.n_jobs = int(keep.sum())

    @classmethod
    def from_jobs(cls, jobs: pd.DataFrame, **kwargs) -> MarketStats:
        """From a validated ``jobs`` frame (see :func:`gigmatch.core.contract.validate_table`)."""
        posted = jobs["posted_at"].to_numpy(dtype="datetime64[ns]")
        posted_s = np.where(np.isnat(posted), np.nan, posted.astype(np.int64) / 1e9)
        return cls(jobs["trade"].to_numpy(dtype=object), posted_s, jobs["daily_wage"].to_numpy(), **kwargs)

    def median_wage(self, trade: np.ndarray, asof_s: np.ndarray | float) -> np.ndarray:
        """The trade's median daily wage (yuan) over jobs posted in ``(asof - window, asof]``.

        Parameters
        ----------
        trade : array of shape (n,), object
            Trade codes.
        asof_s : float or array of shape (n,)
            As-of times, market seconds since epoch.

        Returns
        -------
        ndarray of shape (n,), float64; NaN where no job of the trade was posted in the window.
        """
        trade = np.asarray(trade, dtype=object)
        n = len(trade)
        asof = np.broadcast_to(np.asarray(asof_s, dtype=np.float64), (n,))
        out = np.full(n, np.nan)
        if n == 0 or self.n_jobs == 0:
            return out
        # few distinct (trade, as-of) queries in serving (one job, now) and batch runs; many in training
        get = self._codes.get
        t_id = np.fromiter((get(str(t), -1) for t in trade), dtype=np.int64, count=n)
        known = np.flatnonzero(t_id >= 0)
        if len(known) == 0:
            return out
        by_trade = known[np.argsort(t_id[known], kind="stable")]
        bounds = np.flatnonzero(np.r_[True, np.diff(t_id[by_trade]) != 0, True])
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):  # one pass per trade present (tens)
            rows = by_trade[a:b]
            t = int(t_id[rows[0]])
            s, e = self._start[t], self._start[t + 1]
            posted = self._posted[s:e]
            lo = np.searchsorted(posted, asof[rows] - self.window_s, side="right")
            hi = np.searchsorted(posted, asof[rows], side="right")  # posted at or before the as-of time
            windows, inverse = np.unique(np.c_[lo, hi], axis=0, return_inverse=True)
            wage = self._wage[s:e]
            medians = np.array(
                [np.median(wage[i:j]) if j > i else np.nan for i, j in windows], dtype=np.float64
            )
            out[rows] = medians[inverse.ravel()]
        return out
