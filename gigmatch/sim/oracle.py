"""The oracle: each shown pair's true outcome probabilities and expected graded label and gain.

``truth/oracle.csv`` holds, per shown pair, p_apply, p_hire, p_complete, p_top_rating and the expected
label and gain under the grading of :mod:`models.labels`; it is written beside the market, not in it.
``expected_gain_no_pair_noise`` is the expected gain averaged over the pair's own apply noise z1: the
ceiling of a ranker that could know every worker's and job's latent variables but, like any real
ranker, not a pair's taste draw.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gigmatch.sim.behaviour import PairProbabilities
from gigmatch.sim.policy import ShownPairs
from gigmatch.sim.population import Jobs, Workers


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
        conditional on reaching it), ``expected_label`` (0-4), ``expected_gain`` and
        ``expected_gain_no_pair_noise`` (expected ``2**label - 1``).
    """
    p_hire, p_complete, p_rated, p_top = probs.hire, probs.complete, probs.rated, probs.top_rating

    # expected graded label (models.labels): applied 1, hired 2, completed 3, completed and rated >= 4.5 4
    def label_probs(pa: np.ndarray) -> np.ndarray:  # P(label = 0..4), shape (n_p, 5)
        ph, pc = pa * p_hire, pa * p_hire * p_complete
        p4 = pc * p_rated * p_top
        return np.stack([1 - pa, pa - ph, ph * (1 - p_complete), pc - p4, p4], axis=1)

    dist = label_probs(probs.apply)
    labels = np.arange(5)
    return pd.DataFrame(
        {
            "job_id": jobs.table["job_id"].to_numpy()[pairs.job],
            "worker_id": workers.table["worker_id"].to_numpy()[pairs.worker],
            "p_apply": probs.apply,
            "p_hire": p_hire,
            "p_complete": p_complete,
            "p_top_rating": p_top,
            "expected_label": dist @ labels,
            "expected_gain": dist @ (2.0**labels - 1),
            "expected_gain_no_pair_noise": label_probs(probs.apply_no_pair_noise) @ (2.0**labels - 1),
        }
    )
