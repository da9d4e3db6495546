"""Behavioural model: what a worker shown a job does, and how it ends.

The pairs come from the logging policy (:mod:`gigmatch.sim.policy`: each job shown to 30 of its 200
nearest workers); workers' and jobs' traits from :mod:`gigmatch.sim.population`.

Behavioural model (per shown pair; z are the pair's hidden standard-normal noises)
    apply     p_a = sigmoid(-1.0 + 1.6 exact + 0.8 related + 0.7 preferred - 0.15 d_km
                            - 0.6 max(0, d_km - max_travel_km) + 2.0 log(wage / min_wage)
                            + 0.4 (employer_rating - 4) + 0.8 activity + 0.5 z1)
    hire      p_h = 0 without every required certificate valid at the start, else
              sigmoid(-0.3 + 1.2 exact + 0.5 related + 0.08 min(years, 10) + 0.9 quality)
    complete  p_c = reliability * exp(-d_km / 150); no-show otherwise
    rating    latent ~ Normal(4.0 + 0.5 quality + 0.3 exact, 0.6); rated w.p. 0.7 after completion;
              the rating is the latent rounded and clipped to 1-5.
    decline   a worker who does not apply says so w.p. 0.5 (a ``declined`` event), else stays silent.

(exact: the worker has the job's trade; related: the best related-trade credit of the worker's skills;
preferred: the trade is among the worker's preferences; an unrated employer counts as 4 stars.)

Directions the tests rely on: acceptance falls with distance and rises with wage over the worker's
minimum. Hires are drawn independently per applicant (headcount is not enforced on the log), which
keeps each pair's expected outcome exact: :mod:`gigmatch.sim.oracle` turns the probabilities of
:func:`pair_probabilities` into each pair's expected graded label and gain.

:func:`pair_probabilities` gives every stage's probability (conditional on reaching the stage) and
:func:`draw_outcomes` draws the outcomes from them; :mod:`gigmatch.sim.events` dates them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from gigmatch.sim.policy import ShownPairs
from gigmatch.sim.population import Employers, Jobs, Workers
from models.labels import TOP_RATING

P_RATED = 0.7  # probability that a completed job is rated
RATING_SD = 0.6  # sd of the latent rating around its mean, stars
# a latent rating above this rounds (to whole stars) to at least models.labels.TOP_RATING: a top rating
TOP_RATING_LATENT = float(np.ceil(TOP_RATING)) - 0.5
APPLY_NOISE_SD = 0.5  # weight of the pair's own taste noise z1 in the apply logit
HERMITE_NODES = 32  # Gauss-Hermite nodes for averaging over z1


@dataclass(frozen=True)
class PairProbabilities:
    """Each shown pair's outcome probabilities, every stage conditional on reaching it.

    Attributes
    ----------
    apply : ndarray of float64, shape (n_pairs,)
        P(applies), given the pair's own noise z1.
    apply_no_pair_noise : ndarray of float64, shape (n_pairs,)
        P(applies) averaged over z1: what knowing every latent variable but the pair's own draw gives.
    hire : ndarray of float64, shape (n_pairs,)
        P(hired | applied); 0 without the required certificates valid at the job's start.
    complete : ndarray of float64, shape (n_pairs,)
        P(completes | hired); a hired worker who does not complete is a no-show.
    rated : ndarray of float64, shape (n_pairs,)
        P(rated | completed).
    top_rating : ndarray of float64, shape (n_pairs,)
        P(the rating is at least :data:`models.labels.TOP_RATING` | rated).
    rating_mean : ndarray of float64, shape (n_pairs,)
        Mean of the latent rating, stars (sd :data:`RATING_SD`).
    """

    apply: np.ndarray
    apply_no_pair_noise: np.ndarray
    hire: np.ndarray
    complete: np.ndarray
    rated: np.ndarray
    top_rating: np.ndarray
    rating_mean: np.ndarray

    def __len__(self) -> int:
        return len(self.apply)


def pair_probabilities(
    rng: np.random.Generator, pairs: ShownPairs, workers: Workers, jobs: Jobs, employers: Employers
) -> PairProbabilities:
    """The behavioural model's probabilities for each shown pair (see the module docstring).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws each pair's apply noise z1 (one standard normal per pair).
    pairs : ShownPairs
        Who was shown which job.
    workers, jobs, employers : Workers, Jobs, Employers
        The market with its latent traits (see :mod:`gigmatch.sim.population`).

    Returns
    -------
    PairProbabilities
        Arrays of shape (n_pairs,), in the order of ``pairs``.
    """
    pj, pw, d = pairs.job, pairs.worker, pairs.distance_km
    n_p = len(pj)
    jt = jobs.trade[pj]
    exact = workers.skills[pw, jt].astype(float)
    rel = workers.related_credit[pw, jt]
    pref = workers.preferred[pw, jt].astype(float)
    wage_ratio = np.log(jobs.daily_wage[pj] / workers.min_daily_wage[pw])
    emp_r = np.nan_to_num(employers.rating_avg[jobs.employer[pj]], nan=4.0)
    z1 = rng.normal(0, 1, n_p)
    apply_logit = (
        -1.0
        + 1.6 * exact
        + 0.8 * rel
        + 0.7 * pref
        - 0.15 * d
        - 0.6 * np.maximum(0, d - workers.max_travel_km[pw])
        + 2.0 * wage_ratio
        + 0.4 * (emp_r - 4)
        + 0.8 * workers.activity[pw]
    )
    p_apply = expit(apply_logit + APPLY_NOISE_SD * z1)
    # the same probability averaged over the pair noise z1 (Gauss-Hermite): what an oracle that knows
    # every latent variable except this pair's own draw would expect
    nodes, node_w = np.polynomial.hermite_e.hermegauss(HERMITE_NODES)
    p_apply_no_noise = expit(apply_logit[:, None] + APPLY_NOISE_SD * nodes[None, :]) @ (
        node_w / np.sqrt(2 * np.pi)
    )
    start_days = ((jobs.start - pd.Timestamp(0)) // pd.Timedelta(days=1)).to_numpy()
    licensed = np.ones(n_p, dtype=bool)
    required = jobs.required_certificates
    for slot in range(max(map(len, required), default=0)):
        cert_at = np.array([r[slot] if len(r) > slot else -1 for r in required])[pj]
        has = cert_at >= 0
        c = np.maximum(cert_at, 0)
        ok = workers.certificates[pw, c] & (workers.expiry_day[pw, c] >= start_days[pj])
        licensed &= ~has | ok
    yrs = workers.years[pw, jt]
    p_hire = np.where(
        licensed,
        expit(-0.3 + 1.2 * exact + 0.5 * rel + 0.08 * np.minimum(yrs, 10) + 0.9 * workers.quality[pw]),
        0.0,
    )
    p_complete = workers.reliability[pw] * np.exp(-d / 150.0)
    mu = 4.0 + 0.5 * workers.quality[pw] + 0.3 * exact
    return PairProbabilities(
        apply=p_apply,
        apply_no_pair_noise=p_apply_no_noise,
        hire=p_hire,
        complete=p_complete,
        rated=np.full(n_p, P_RATED),
        top_rating=ndtr((mu - TOP_RATING_LATENT) / RATING_SD),
        rating_mean=mu,
    )


@dataclass(frozen=True)
class Outcomes:
    """What happened to each shown pair.

    Attributes
    ----------
    applied, declined, hired, completed, no_show, rated : ndarray of bool, shape (n_pairs,)
        Whether the pair reached each outcome (declined: did not apply and said so; no_show: hired and
        did not complete).
    rating : ndarray of float64, shape (n_pairs,)
        Stars 1-5, whole; drawn for every pair, meaningful where ``rated``.
    """

    applied: np.ndarray
    declined: np.ndarray
    hired: np.ndarray
    completed: np.ndarray
    no_show: np.ndarray
    rated: np.ndarray
    rating: np.ndarray


def draw_outcomes(rng: np.random.Generator, probs: PairProbabilities) -> Outcomes:
    """Draw each pair's outcomes, independently across pairs (headcount is not enforced).

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws, in order, ``n_pairs`` uniforms each for apply, hire, complete and rated, ``n_pairs``
        latent ratings, then ``n_pairs`` uniforms for declining.
    probs : PairProbabilities
        The pairs' probabilities (from :func:`pair_probabilities`).

    Returns
    -------
    Outcomes
    """
    n_p = len(probs)
    applied = rng.random(n_p) < probs.apply
    hired = applied & (rng.random(n_p) < probs.hire)
    completed = hired & (rng.random(n_p) < probs.complete)
    no_show = hired & ~completed
    rated = completed & (rng.random(n_p) < probs.rated)
    rating = np.clip(np.round(rng.normal(probs.rating_mean, RATING_SD)), 1, 5)
    declined = ~applied & (rng.random(n_p) < 0.5)
    return Outcomes(
        applied=applied,
        declined=declined,
        hired=hired,
        completed=completed,
        no_show=no_show,
        rated=rated,
        rating=rating,
    )


def only_examined(outcomes: Outcomes, examined: np.ndarray) -> Outcomes:
    """The outcomes of pairs whose worker examined the offer; an unexamined pair has none at all.

    Parameters
    ----------
    outcomes : Outcomes
        What each pair would have done had its worker looked at the offer.
    examined : ndarray of bool, shape (n_pairs,)
        Whether the worker looked (see :mod:`gigmatch.sim.positions`).

    Returns
    -------
    Outcomes
        Every flag and'ed with ``examined`` (ratings kept; they count only where ``rated``).
    """
    return Outcomes(
        applied=outcomes.applied & examined,
        declined=outcomes.declined & examined,
        hired=outcomes.hired & examined,
        completed=outcomes.completed & examined,
        no_show=outcomes.no_show & examined,
        rated=outcomes.rated & examined,
        rating=outcomes.rating,
    )
