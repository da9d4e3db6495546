"""The examination curve estimated from logged propensities, and the weighted DCG it feeds (#17)."""

from __future__ import annotations

import numpy as np
import pytest

from models.examination import FLOOR, estimate_examination, examination_weights
from models.metrics import ips_dcg_at_k


def planted_log(seed: int, n_lists: int = 6000, n: int = 12, power: float = 0.7, exploration: float = 0.3):
    """Lists of ``n`` workers shown by a policy that puts the most appealing first (or, for
    ``exploration`` of the lists, at random), examination ``p ** -power``; returns the log and the curve."""
    rng = np.random.default_rng(seed)
    appeal = rng.uniform(0.05, 0.6, size=(n_lists, n))  # P(apply | examined), per list and worker
    explore = rng.random(n_lists) < exploration
    key = np.where(explore[:, None], rng.random((n_lists, n)), -appeal)
    position = np.argsort(np.argsort(key, axis=1), axis=1) + 1  # 1 = smallest key
    greedy = np.argsort(np.argsort(-appeal, axis=1), axis=1) + 1
    propensity = (1 - exploration) * (greedy == position) + exploration / n
    theta = np.arange(1, n + 1, dtype=float) ** -power
    applied = (rng.random((n_lists, n)) < theta[position - 1]) & (rng.random((n_lists, n)) < appeal)
    query = np.repeat(np.arange(n_lists), n)
    return query, position.ravel(), propensity.ravel(), applied.ravel().astype(int), theta


def test_the_planted_curve_is_recovered_and_the_unweighted_rates_are_not():
    query, position, propensity, label, theta = planted_log(seed=3)
    curve = estimate_examination(query, position, propensity, label)
    assert curve is not None and len(curve) == len(theta) + 1
    err = np.abs(curve[1:] - theta)
    # the policy puts appealing workers first, so raw application rates per position fall faster than
    # the examination curve: the inverse-propensity estimate must do much better than that
    raw = np.bincount(position, weights=label)[1:] / np.bincount(position)[1:]
    raw_err = np.abs(raw / raw[0] - theta)
    assert err.max() < 0.06, np.round(curve[1:], 3)
    assert err.mean() < raw_err.mean() / 3
    assert np.all(np.diff(curve[1:]) <= 0) and curve[1:].min() >= FLOOR and curve[1:].max() <= 1


def test_a_flat_curve_is_recovered_when_every_offer_is_examined():
    query, position, propensity, label, _ = planted_log(seed=4, power=0.0)
    curve = estimate_examination(query, position, propensity, label)
    assert np.abs(curve[1:] - 1).max() < 0.08


@pytest.mark.parametrize(
    "spoil",
    [
        lambda q, p, pi: (q, p, np.where(np.arange(len(pi)) == 5, np.nan, pi)),  # a propensity missing
        lambda q, p, pi: (q, p, np.where(np.arange(len(pi)) == 5, 0.0, pi)),  # a propensity of 0
        lambda q, p, pi: (q, np.where(np.arange(len(p)) == 1, p[0], p), pi),  # a position repeated
        lambda q, p, pi: (q, np.where(np.arange(len(p)) == 2, np.nan, p), pi),  # a position missing
    ],
)
def test_a_log_it_cannot_trust_gives_no_curve(spoil):
    query, position, propensity, label, _ = planted_log(seed=5, n_lists=200)
    assert estimate_examination(query, position, propensity, label) is not None
    q, p, pi = spoil(query, position.astype(float), propensity)
    assert estimate_examination(q, p, pi, label) is None


def test_positions_reached_by_few_lists_take_the_last_well_estimated_value():
    query, position, propensity, label, _ = planted_log(seed=6, n_lists=400, n=8)
    # one long list of 20: positions 9..20 are reached by a single list
    q = np.r_[query, np.full(20, 400)]
    p = np.r_[position, np.arange(1, 21)]
    pi = np.r_[propensity, np.full(20, 1 / 20)]
    y = np.r_[label, np.zeros(20, dtype=int)]
    curve = estimate_examination(q, p, pi, y, min_lists=30)
    assert len(curve) == 21 and np.all(curve[9:] == curve[8])


def test_weights_are_the_inverse_curve_and_unknown_positions_count_as_examined():
    curve = np.array([1.0, 1.0, 0.5, 0.25])
    w = examination_weights(np.array([1, 2, 3, 7, np.nan, 0]), curve)
    np.testing.assert_allclose(w, [1, 2, 4, 4, 1, 1])


def test_weighted_dcg_matches_hand_computed_cases_and_is_unbiased_for_the_examined_dcg():
    # one query: gains 1 (label 1) and 3 (label 2) weighted 4 and 1; the score ranks the label-2 row
    # first: DCG 3 * 1 + 4 * 1 / log2(3); a second query of zeros adds 0 to the mean over 2 queries
    group, y = np.array([0, 0, 1]), np.array([1, 2, 0])
    got = ips_dcg_at_k(group, y, np.array([0.0, 1.0, 0.5]), np.array([4.0, 1.0, 3.0]))
    assert got == pytest.approx((3 + 4 / np.log2(3)) / 2)
    assert ips_dcg_at_k(group, y, np.array([0.0, 1.0, 0.5]), np.ones(3), k=1) == pytest.approx(3 / 2)
    # position-based model: grades kept with probability theta of the row's position, weighted 1 /
    # theta: the mean over many draws approaches the DCG of the grades had every row been examined
    rng = np.random.default_rng(1)
    group = np.repeat(np.arange(400), 10)
    truth = rng.integers(0, 5, size=len(group))
    score = rng.random(len(group))
    theta = np.tile(np.arange(1, 11) ** -0.6, 400)
    full = ips_dcg_at_k(group, truth, score, np.ones(len(group)))
    draws = [
        ips_dcg_at_k(group, np.where(rng.random(len(group)) < theta, truth, 0), score, 1 / theta)
        for _ in range(200)
    ]
    unweighted = ips_dcg_at_k(
        group, np.where(rng.random(len(group)) < theta, truth, 0), score, np.ones(len(group))
    )
    assert np.mean(draws) == pytest.approx(full, rel=0.01)
    assert unweighted < 0.8 * full
