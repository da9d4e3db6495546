"""The logging policy: which workers the platform showed each job to.

For each job the platform takes the ``pool_size`` (200) nearest workers and shows the job to
``shown_per_job`` (30) of them, sampled without replacement (Gumbel top-k) with weight
``exp(skill + 0.5 related - d/8)`` (skill: the worker has the job's trade; related: the best related-trade
credit, see :meth:`gigmatch.sim.population.Vocabulary.related_credit`; d: distance in km). A noisy
policy, so the log covers good and bad pairs. Jobs of blacklisted employers are never shown.

The policy's output, :class:`ShownPairs`, is what the behavioural model (:mod:`gigmatch.sim.behaviour`)
and the oracle (:mod:`gigmatch.sim.oracle`) work on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import BallTree

from gigmatch.core.geo import haversine_km
from gigmatch.sim.population import Employers, Jobs, Workers


@dataclass(frozen=True)
class ShownPairs:
    """The (job, worker) pairs the platform showed, grouped by job.

    Attributes
    ----------
    job : ndarray of int64, shape (n_pairs,)
        Job index (into the jobs), ascending.
    worker : ndarray of int64, shape (n_pairs,)
        Worker index (into the workers).
    distance_km : ndarray of float64, shape (n_pairs,)
        Great-circle distance from the worker's home to the job, km.
    """

    job: np.ndarray
    worker: np.ndarray
    distance_km: np.ndarray

    def __len__(self) -> int:
        return len(self.job)


def show_jobs(
    rng: np.random.Generator,
    workers: Workers,
    jobs: Jobs,
    employers: Employers,
    shown_per_job: int,
    pool_size: int,
) -> ShownPairs:
    """Sample who was shown each job (Gumbel top-k over each job's nearest workers).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws one Gumbel key per (job, pool worker).
    workers, jobs, employers : Workers, Jobs, Employers
        The market (see :mod:`gigmatch.sim.population`).
    shown_per_job : int
        Workers shown each job (at most the pool).
    pool_size : int
        Nearest workers each job's sample is drawn from (capped at the number of workers).

    Returns
    -------
    ShownPairs
        ``min(shown_per_job, pool)`` pairs per job of a non-blacklisted employer, jobs ascending; within
        a job, in descending order of the sampling key.
    """
    shown_jobs = np.flatnonzero(~employers.blacklisted[jobs.employer])
    k_pool = min(pool_size, len(workers))
    tree = BallTree(np.radians(np.c_[workers.lat, workers.lon]), metric="haversine")
    if len(shown_jobs):
        _, nn = tree.query(np.radians(np.c_[jobs.lat[shown_jobs], jobs.lon[shown_jobs]]), k=k_pool)
    else:  # every employer blacklisted (a tiny county of a province run): nothing is shown
        nn = np.zeros((0, k_pool), dtype=np.int64)
    pj = np.repeat(shown_jobs, k_pool)
    pw = nn.ravel()
    d = haversine_km(jobs.lat[pj], jobs.lon[pj], workers.lat[pw], workers.lon[pw])
    jt = jobs.trade[pj]
    exact = workers.skills[pw, jt].astype(float)
    rel = workers.related_credit[pw, jt]
    logit = exact + 0.5 * rel - d / 8.0
    key = logit + rng.gumbel(size=len(pj))
    order = np.lexsort((-key, pj))
    # every shown job holds exactly k_pool rows, and sorting by job keeps them in blocks of k_pool
    rank = np.arange(len(pj)) - np.repeat(np.arange(len(shown_jobs)) * k_pool, k_pool)
    keep = order[rank < shown_per_job]
    return ShownPairs(job=pj[keep], worker=pw[keep], distance_km=d[keep])
