"""Reputation features: the worker's track record and engagement, and the employer's standing.

Rates and mean ratings are shrunk towards a prior (a Bayesian mean with the prior weighted as a few
observations), so a new worker or employer is neither best nor worst. Event-derived counts come from
:attr:`PairContext.history <features.context.PairContext.history>` (strictly before the pair's
time) on top of the ``workers`` snapshot columns (history from before the log). A showing logged with
its position counts as the probability that the worker examined an offer at that position
(:mod:`features.history`), so ``apply_rate_shrunk`` is applications per offer *looked at* and
``shown_count`` the expected number of offers looked at: the old ranking's placement of a worker no
longer reads as the worker's reluctance. Without logged positions both are the plain counts.
"""

from __future__ import annotations

import numpy as np

from features.context import PairContext
from features.schema import Feature

RATING_PRIOR_MEAN = 4.0  # stars; a new worker is treated as a 4.0 with the weight of 5 ratings
RATING_PRIOR_WEIGHT = 5.0
NO_SHOW_PRIOR_RATE = 0.1
NO_SHOW_PRIOR_WEIGHT = 5.0
APPLY_PRIOR_RATE = 0.4  # share of shown jobs a worker applies to, before the log says otherwise
APPLY_PRIOR_WEIGHT = 5.0
HIRE_PRIOR_RATE = 0.4  # share of applications that end in a hire
HIRE_PRIOR_WEIGHT = 5.0

FEATURES: tuple[Feature, ...] = (
    Feature(
        "rating_shrunk",
        "stars",
        "[1, 5]",
        "prior 4.0 with no ratings",
        "Bayesian mean rating, prior 4.0 weighted as 5 ratings",
    ),
    Feature("rating_count", "log1p count", "[0, inf)", "0", "log1p(number of ratings) as of the time"),
    Feature("jobs_completed", "log1p count", "[0, inf)", "0", "log1p(completed jobs) as of the time"),
    Feature(
        "no_show_rate_shrunk",
        "fraction",
        "[0, 1]",
        "prior 0.1",
        "no-shows / (completed + no-shows), prior 0.1 weighted as 5 jobs",
    ),
    Feature(
        "apply_rate_shrunk",
        "fraction",
        "[0, 1]",
        "prior 0.4",
        "applied / showings (examination-weighted when positions are logged), prior 0.4 weighted as 5",
    ),
    Feature(
        "hire_rate_shrunk",
        "fraction",
        "[0, 1]",
        "prior 0.4",
        "hired / applied, prior 0.4 weighted as 5 applications",
    ),
    Feature(
        "shown_count",
        "log1p count",
        "[0, inf)",
        "0",
        "log1p(showings, examination-weighted when positions are logged) as of the time",
    ),
    Feature("employer_rating_shrunk", "stars", "[1, 5]", "prior 4.0", "employer's Bayesian mean rating"),
    Feature(
        "employer_blacklisted",
        "flag",
        "{0, 1}",
        "0 for unknown employers",
        "employer on the wage-arrears blacklist",
    ),
)


def compute(ctx: PairContext) -> dict[str, np.ndarray]:
    """Reputation columns for every pair.

    Parameters
    ----------
    ctx : PairContext
        Uses ``history`` and the worker's and employer's snapshot columns.

    Returns
    -------
    dict of str to ndarray of shape (n_pairs,)
        ``rating_shrunk`` and ``employer_rating_shrunk`` (stars in [1, 5], float64),
        ``rating_count``, ``jobs_completed`` and ``shown_count`` (log1p of counts, float64),
        ``no_show_rate_shrunk``, ``apply_rate_shrunk`` and ``hire_rate_shrunk`` (fractions in
        [0, 1], float64) and ``employer_blacklisted`` (bool).
    """
    workers, jobs, worker, job, h = ctx.workers, ctx.jobs, ctx.worker, ctx.job, ctx.history
    r_n = workers.rating_count[worker] + h["rating_count"]
    r_sum = np.nan_to_num(workers.rating_avg[worker]) * workers.rating_count[worker] + h["rating_sum"]
    done = workers.jobs_completed[worker] + h["completed"]
    noshow = workers.no_shows[worker] + h["no_shows"]
    shown, applied, hired = h["shown"], h["applied"], h["hired"]
    e_n = jobs.employer_rating_count[job]
    e_sum = np.nan_to_num(jobs.employer_rating_avg[job]) * e_n
    return {
        "rating_shrunk": (RATING_PRIOR_MEAN * RATING_PRIOR_WEIGHT + r_sum) / (RATING_PRIOR_WEIGHT + r_n),
        "rating_count": np.log1p(r_n),
        "jobs_completed": np.log1p(done),
        "no_show_rate_shrunk": (NO_SHOW_PRIOR_RATE * NO_SHOW_PRIOR_WEIGHT + noshow)
        / (NO_SHOW_PRIOR_WEIGHT + done + noshow),
        "apply_rate_shrunk": (APPLY_PRIOR_RATE * APPLY_PRIOR_WEIGHT + applied) / (APPLY_PRIOR_WEIGHT + shown),
        "hire_rate_shrunk": (HIRE_PRIOR_RATE * HIRE_PRIOR_WEIGHT + hired) / (HIRE_PRIOR_WEIGHT + applied),
        "shown_count": np.log1p(shown),
        "employer_rating_shrunk": (RATING_PRIOR_MEAN * RATING_PRIOR_WEIGHT + e_sum)
        / (RATING_PRIOR_WEIGHT + e_n),
        "employer_blacklisted": jobs.employer_blacklisted[job],
    }
