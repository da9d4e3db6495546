"""Position bias: in which order the logging policy showed each list, and who looked at which offer.

Used when :attr:`SimulationConfig.position_bias` is on (``gigmatch simulate --position-bias``); without
it the log has no positions and every shown offer is examined, as before issue #17.

Logging policy (the order of each job's shown list; the set shown is :mod:`gigmatch.sim.policy`'s)
    With probability ``1 - exploration`` a list is shown in the order of the policy's noisy heuristic
    ``exact + 0.5 related - d_km / 8`` (the same score the set was drawn with; ties by worker index),
    and with probability ``exploration`` (default 0.3) in a uniformly random order: exploration
    traffic, drawn per list. The propensity of a shown row is exact, the probability that this policy
    put this worker at this position *given the list's workers*::

        propensity = (1 - exploration) * [heuristic rank == position] + exploration / n_list

    Why not a Plackett-Luce draw: the probability that a Plackett-Luce ranking puts a worker at position
    p > 1 is a sum over every ordering of the workers above it, with no closed form; the estimators in
    :mod:`models.ope` need exactly that marginal, so the policy is one whose marginals are exact.
Examination (the position-based click model)
    A worker at position p looks at the offer with probability ``theta_p = p ** -examination_power``
    (default power 0.5: 1 at the top, 0.32 at position 10, 0.18 at position 30), independently of the
    pair. Only an examined offer can be applied to (or declined); an unexamined one leaves only its
    ``shown`` event. The behavioural model's probabilities (:mod:`gigmatch.sim.behaviour`) are given
    examination, so the oracle's expected gain is the pair's true value given examination.

Draws come from their own generator, ``numpy.random.default_rng([seed, 17])``, so the market, the set
shown and the outcomes given examination are the same as without position bias for the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gigmatch.sim.policy import ShownPairs
from gigmatch.sim.population import Jobs, Workers

POLICY_NAME = "sim-logging-v1"  # the `policy` written on the simulator's shown events


def examination_probability(position: np.ndarray | int, power: float) -> np.ndarray:
    """The probability that a worker at ``position`` examines the offer, ``position ** -power``.

    Parameters
    ----------
    position : array_like of int, any shape
        1-based positions.
    power : float
        Decay exponent, >= 0 (0: everyone examines every offer).

    Returns
    -------
    ndarray of float64, the shape of ``position``, in (0, 1]
    """
    return np.asarray(position, dtype=float) ** -float(power)


@dataclass(frozen=True)
class LoggedLists:
    """Where each shown pair stood in its list, the policy's propensity, and whether it was examined.

    Attributes
    ----------
    position : ndarray of int64, shape (n_pairs,)
        1-based position within the job's list, in the order of the pairs.
    propensity : ndarray of float64, shape (n_pairs,)
        P(the policy put this worker at this position | the list's workers), exact.
    examination : ndarray of float64, shape (n_pairs,)
        theta of the pair's position (see the module docstring).
    examined : ndarray of bool, shape (n_pairs,)
        Whether the worker looked at the offer.
    """

    position: np.ndarray
    propensity: np.ndarray
    examination: np.ndarray
    examined: np.ndarray


def log_positions(
    rng: np.random.Generator,
    pairs: ShownPairs,
    workers: Workers,
    jobs: Jobs,
    exploration: float,
    examination_power: float,
) -> LoggedLists:
    """Order each job's shown list and draw who examined their offer (see the module docstring).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws, in order: one uniform per job (explore or not), one uniform key per pair (the random
        order), one uniform per pair (examination).
    pairs : ShownPairs
        The shown pairs, grouped by job (job ascending).
    workers, jobs : Workers, Jobs
        For the heuristic's skill and related-trade credit.
    exploration : float
        Share of lists shown in a uniformly random order, in [0, 1].
    examination_power : float
        Decay of the examination probability with position, >= 0.

    Returns
    -------
    LoggedLists
        Arrays of shape (n_pairs,), in the order of ``pairs``.
    """
    pj, pw = pairs.job, pairs.worker
    n_p = len(pj)
    jt = jobs.trade[pj]
    heuristic = (
        workers.skills[pw, jt].astype(float) + 0.5 * workers.related_credit[pw, jt] - pairs.distance_km / 8
    )
    uniq, first, size = np.unique(pj, return_index=True, return_counts=True)
    list_of = np.searchsorted(uniq, pj)
    explore = rng.random(len(uniq)) < exploration
    random_key = rng.random(n_p)
    rank_key = np.where(explore[list_of], random_key, -heuristic)
    order = np.lexsort((pw, rank_key, pj))  # within a job: by the key, ties by worker
    position = np.empty(n_p, dtype=np.int64)
    position[order] = np.arange(n_p) - np.repeat(first, size) + 1
    # the heuristic order's position of every pair, for the exact propensity
    h_order = np.lexsort((pw, -heuristic, pj))
    h_position = np.empty(n_p, dtype=np.int64)
    h_position[h_order] = np.arange(n_p) - np.repeat(first, size) + 1
    n_list = size[list_of]
    propensity = (1 - exploration) * (h_position == position) + exploration / n_list
    theta = examination_probability(position, examination_power)
    examined = rng.random(n_p) < theta
    return LoggedLists(position=position, propensity=propensity, examination=theta, examined=examined)
