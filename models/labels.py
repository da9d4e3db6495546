"""Graded relevance labels for shown (job, worker) pairs, from each pair's furthest outcome.

=====================================  =====
furthest outcome                       label
=====================================  =====
shown, declined, or hired then no-show   0
applied                                  1
hired                                    2
completed                                3
completed and rated >= 4.5 stars         4
=====================================  =====

A no-show is graded 0 even though it was hired: for the employer it is worse than nobody. Only pairs
with a ``shown`` event are labelled (the ranker learns from what the platform showed); the query time
of a pair is its first ``shown`` event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOP_RATING = 4.5
MAX_LABEL = 4


def graded_labels(events: pd.DataFrame) -> pd.DataFrame:
    """One row per shown pair: ``job_id, worker_id, shown_ts, label`` (int 0-4), sorted by job then time."""
    ev = events[["job_id", "worker_id", "event", "ts", "rating"]]
    shown = (
        ev[ev["event"] == "shown"].groupby(["job_id", "worker_id"], sort=False)["ts"].min().rename("shown_ts")
    )
    flags = pd.crosstab([ev["job_id"], ev["worker_id"]], ev["event"]).clip(upper=1)
    for name in ("applied", "hired", "completed", "no_show"):
        if name not in flags:
            flags[name] = 0
    top = (
        ev[(ev["event"] == "rated") & (ev["rating"] >= TOP_RATING)]
        .groupby(["job_id", "worker_id"])
        .size()
        .rename("top")
    )
    out = (
        shown.to_frame()
        .join(flags[["applied", "hired", "completed", "no_show"]])
        .join(top)
        .fillna({"top": 0})
    )
    label = np.select(
        [
            (out["completed"] > 0) & (out["top"] > 0),
            out["completed"] > 0,
            out["no_show"] > 0,
            out["hired"] > 0,
            out["applied"] > 0,
        ],
        [4, 3, 0, 2, 1],
        0,
    )
    out = out.reset_index()[["job_id", "worker_id", "shown_ts"]].assign(label=label.astype(np.int32))
    return out.sort_values(["job_id", "shown_ts", "worker_id"], kind="stable").reset_index(drop=True)
