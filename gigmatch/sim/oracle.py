"""The oracle: each shown pair's true outcome probabilities and expected graded label and gain.

``truth/oracle.csv`` holds, per shown pair, p_apply, p_hire, p_complete, p_top_rating and the expected
label and gain under the grading of :mod:`models.labels` (:func:`models.labels.label_distribution`, the
same definition :func:`models.labels.graded_labels` grades the event log by: a no-show is graded 0);
it is written beside the market, not in it.
``expected_gain_no_pair_noise`` is the expected gain averaged over the pair's own apply noise z1: the
ceiling of a ranker that could know every worker's and job's latent variables but, like any real
ranker, not a pair's taste draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gigmatch.sim.behaviour import Outcomes, PairProbabilities
from gigmatch.sim.policy import ShownPairs
from gigmatch.sim.population import Jobs, Workers
from models.labels import (
    APPLIED,
    COMPLETED,
    HIRED,
    LABELS,
    NO_MATCH,
    TOP_RATED,
    TOP_RATING,
    label_distribution,
    label_gain,
)


def oracle_table(pairs: ShownPairs, probs: PairProbabilities, workers: Workers, jobs: Jobs) -> pd.DataFrame:
    """The oracle table, one row per shown pair in the order of ``pairs``.

    Parameters
    ----------
    pairs : ShownPairs
        Who was shown which job.
    probs : PairProbabilities
        The pairs' true probabilities (from :func:`gigmatch.sim.behaviour.pair_probabilities`).
    workers, jobs : Workers, Jobs
        For ids.

    Returns
    -------
    pandas.DataFrame
        ``job_id, worker_id, p_apply, p_hire, p_complete, p_top_rating`` (probabilities, each stage
        conditional on reaching it), ``expected_label`` (0..MAX_LABEL), ``expected_gain`` and
        ``expected_gain_no_pair_noise`` (expected :func:`models.labels.label_gain`).
    """

    def distribution(p_apply: np.ndarray) -> np.ndarray:  # P(label = 0..MAX_LABEL), (n_pairs, MAX_LABEL + 1)
        return label_distribution(p_apply, probs.hire, probs.complete, probs.rated, probs.top_rating)

    dist = distribution(probs.apply)
    gains = label_gain(LABELS)
    return pd.DataFrame(
        {
            "job_id": jobs.table["job_id"].to_numpy()[pairs.job],
            "worker_id": workers.table["worker_id"].to_numpy()[pairs.worker],
            "p_apply": probs.apply,
            "p_hire": probs.hire,
            "p_complete": probs.complete,
            "p_top_rating": probs.top_rating,
            "expected_label": dist @ LABELS,
            "expected_gain": dist @ gains,
            "expected_gain_no_pair_noise": distribution(probs.apply_no_pair_noise) @ gains,
        }
    )


def graded_outcomes(outcomes: Outcomes) -> np.ndarray:
    """Each pair's grade from its drawn outcomes, as :func:`models.labels.graded_labels` grades a log.

    Parameters
    ----------
    outcomes : Outcomes
        Drawn outcomes, shape (n_pairs,) each.

    Returns
    -------
    ndarray of int32, shape (n_pairs,), in 0..MAX_LABEL
    """
    o = outcomes
    top = o.completed & o.rated & (o.rating >= TOP_RATING)
    return np.select(
        [top, o.completed, o.no_show, o.hired, o.applied],
        [TOP_RATED, COMPLETED, NO_MATCH, HIRED, APPLIED],
        NO_MATCH,
    ).astype(np.int32)
