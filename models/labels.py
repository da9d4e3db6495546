"""Graded relevance labels for shown (job, worker) pairs, from each pair's furthest outcome.

=====================================  =====
furthest outcome                       label
=====================================  =====
shown, declined, or hired then no-show   0
applied                                  1
hired (not yet completed nor no-show)    2
completed                                3
completed and rated >= 4.5 stars         4
=====================================  =====

A no-show is graded 0 even though it was hired: for the employer it is worse than nobody. Only pairs
with a ``shown`` event are labelled (the ranker learns from what the platform showed); the query time
of a pair is its first ``shown`` event. The gain of a label is ``2**label - 1``.

The grading is defined here once: :func:`graded_labels` grades logged events,
:func:`label_distribution` gives the probability of each grade from a pair's per-stage probabilities
(the simulator's oracle), and :func:`label_gain` is the gain the metrics and the oracle use.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NO_MATCH = 0  # shown only, declined, or hired then no-show
APPLIED = 1
HIRED = 2  # hired, and neither completed nor a no-show (yet)
COMPLETED = 3
TOP_RATED = 4  # completed and rated at least TOP_RATING
MAX_LABEL = TOP_RATED
LABELS = np.arange(MAX_LABEL + 1)  # every grade, 0..MAX_LABEL
TOP_RATING = 4.5  # stars


def label_gain(label: np.ndarray | int) -> np.ndarray:
    """Gain of a graded label, ``2**label - 1`` (0, 1, 3, 7, 15).

    Parameters
    ----------
    label : array_like of int, any shape
        Labels in 0..MAX_LABEL.

    Returns
    -------
    ndarray of float64, the shape of ``label``
    """
    return 2.0 ** np.asarray(label) - 1.0


def label_distribution(
    p_apply: np.ndarray,
    p_hire: np.ndarray,
    p_complete: np.ndarray,
    p_rated: np.ndarray | float,
    p_top_rating: np.ndarray,
) -> np.ndarray:
    """Probability of each grade for pairs whose stages follow one another.

    A shown pair applies; an applicant is hired; a hired worker completes or is a no-show; a completed
    job is rated; a rating is top (at least :data:`TOP_RATING`) or not. Each probability is conditional
    on reaching its stage. A hire always ends completed or a no-show here, so :data:`HIRED` (a hire
    still open) has probability 0.

    Parameters
    ----------
    p_apply : ndarray of float64, shape (n_pairs,)
        P(applies | shown).
    p_hire : ndarray of float64, shape (n_pairs,)
        P(hired | applied).
    p_complete : ndarray of float64, shape (n_pairs,)
        P(completes | hired); otherwise a no-show.
    p_rated : float or ndarray of float64, shape (n_pairs,)
        P(rated | completed).
    p_top_rating : ndarray of float64, shape (n_pairs,)
        P(rating >= TOP_RATING | rated).

    Returns
    -------
    ndarray of float64, shape (n_pairs, MAX_LABEL + 1)
        ``P(label = k)`` in column ``k``; each row sums to 1. ``dist @ LABELS`` is the expected label
        and ``dist @ label_gain(LABELS)`` the expected gain.
    """
    p_apply, p_hire, p_complete, p_rated, p_top_rating = np.broadcast_arrays(
        p_apply, p_hire, p_complete, p_rated, p_top_rating
    )
    hired = p_apply * p_hire
    completed = hired * p_complete
    top = completed * p_rated * p_top_rating
    dist = np.zeros((len(p_apply), MAX_LABEL + 1))
    dist[:, NO_MATCH] = (1 - p_apply) + hired * (1 - p_complete)  # did not apply, or a no-show
    dist[:, APPLIED] = p_apply - hired
    dist[:, COMPLETED] = completed - top
    dist[:, TOP_RATED] = top
    return dist


def graded_labels(events: pd.DataFrame) -> pd.DataFrame:
    """Grade every shown pair by its furthest outcome in an event log.

    Parameters
    ----------
    events : pandas.DataFrame
        The contract's ``events`` table (``job_id, worker_id, event, ts, rating`` are used).

    Returns
    -------
    pandas.DataFrame
        One row per shown pair: ``job_id, worker_id, shown_ts`` (its first ``shown`` event) and ``label``
        (int32, 0..MAX_LABEL), sorted by job, then time, then worker.
    """
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
        [TOP_RATED, COMPLETED, NO_MATCH, HIRED, APPLIED],
        NO_MATCH,
    )
    out = out.reset_index()[["job_id", "worker_id", "shown_ts"]].assign(label=label.astype(np.int32))
    return out.sort_values(["job_id", "shown_ts", "worker_id"], kind="stable").reset_index(drop=True)
