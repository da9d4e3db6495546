"""Timing features: the job's start against the worker's availability, and how recent the worker is.

All times are market seconds since epoch (see :mod:`features.encode`); the results are in days.
"""

from __future__ import annotations

import numpy as np

from features.context import PairContext
from features.encode import SECONDS_PER_DAY
from features.schema import Feature

FEATURES: tuple[Feature, ...] = (
    Feature(
        "available_at_start",
        "flag",
        "{0, 1}",
        "1 when no availability given",
        "job start within the worker's availability window",
    ),
    Feature(
        "days_since_last_activity",
        "days",
        "[0, inf)",
        "NaN when never active",
        "days since the worker last applied, declined or completed",
    ),
    Feature("days_since_registered", "days", "[0, inf)", "NaN when not given", "days since registration"),
)


def compute(ctx: PairContext) -> dict[str, np.ndarray]:
    """Timing columns for every pair.

    Parameters
    ----------
    ctx : PairContext
        Uses ``start_s``, ``asof_s``, ``history["last_activity_s"]`` and the worker's availability
        window and registration time.

    Returns
    -------
    dict of str to ndarray of shape (n_pairs,)
        ``available_at_start`` (bool; the window's last day counts whole),
        ``days_since_last_activity`` (days, float64; registration counts as activity, NaN when
        neither is known) and ``days_since_registered`` (days, float64, NaN when not given).
    """
    workers, worker, start_s = ctx.workers, ctx.worker, ctx.start_s
    registered = workers.registered_s[worker]
    last = np.fmax(ctx.history["last_activity_s"], registered)
    a_from, a_until = workers.available_from_s[worker], workers.available_until_s[worker]
    return {
        "available_at_start": ~((start_s < a_from) | (start_s > a_until + SECONDS_PER_DAY)),
        "days_since_last_activity": (ctx.asof_s - last) / SECONDS_PER_DAY,
        "days_since_registered": (ctx.asof_s - registered) / SECONDS_PER_DAY,
    }
