"""Off-policy estimators (models/ope.py) on hand-computed cases and on a log with a known truth."""

import numpy as np
import pytest

from models.ope import LoggedLists, candidate_positions, estimate, true_value


def hand_log():
    # list 0: a@1 (pi .5, gain 3), b@2 (pi .25, gain 1), c@3 (pi 1, gain 0); list 1: d@1 (pi .8, 0), e@2 (pi .5, 7)
    return LoggedLists(
        list_id=np.array([0, 0, 0, 1, 1]),
        position=np.array([1, 2, 3, 1, 2]),
        propensity=np.array([0.5, 0.25, 1.0, 0.8, 0.5]),
        reward=np.array([3.0, 1.0, 0.0, 0.0, 7.0]),
    )


SCORE = np.array([3.0, 1.0, 2.0, 5.0, 1.0])  # candidate: a, c, b in list 0; d, e in list 1


def test_candidate_positions_rank_within_each_list():
    assert candidate_positions(np.array([0, 0, 0, 1, 1]), SCORE).tolist() == [1, 3, 2, 1, 2]
    assert candidate_positions(np.array([0, 0]), np.array([1.0, 1.0])).tolist() == [1, 2]  # ties: row order


def test_ips_snips_dm_dr_match_hand_computation():
    """k = 2. Matching rows (candidate position == logged position <= 2): a (weight 2), d (1.25), e (2).
    IPS = (2*3 + 1.25*0 + 2*7) / 2 lists = 10.
    SNIPS: position 1: 2 lists * (6 + 0) / (2 + 1.25); position 2: 2 * 14 / 2; sum / 2 lists.
    DM with qhat = 1 everywhere: 2 positions per list -> 2. DR = 2 + (2*(3-1) + 1.25*(0-1) + 2*(7-1)) / 2."""
    log = hand_log()
    est = estimate(
        log,
        SCORE,
        k=2,
        qhat_logged=np.ones(5),
        qhat_target_fn=lambda sigma: np.ones(len(sigma)),
        n_boot=200,
    )
    assert est["ips"]["estimate"] == pytest.approx(10.0)
    assert est["snips"]["estimate"] == pytest.approx((2 * 6 / 3.25 + 14) / 2)
    assert est["dm"]["estimate"] == pytest.approx(2.0)
    assert est["dr"]["estimate"] == pytest.approx(2 + (4 - 1.25 + 12) / 2)
    # SNDR: residuals self-normalised per position: 2 * (4 - 1.25) / 3.25 and 2 * 12 / 2
    assert est["sndr"]["estimate"] == pytest.approx(2 + (2 * 2.75 / 3.25 + 12) / 2)
    for e in est.values():
        assert e["ci_low"] <= e["ci_high"]


def test_true_value_by_hand():
    # list 0 ranked a, c, b; list 1 d, e; theta = (1, .5, .25); k = 2
    gain = np.array([2.0, 4.0, 8.0, 1.0, 6.0])
    v = true_value(np.array([0, 0, 0, 1, 1]), SCORE, gain, np.array([1.0, 0.5, 0.25]), k=2)
    assert v == pytest.approx(((1 * 2 + 0.5 * 8) + (1 * 1 + 0.5 * 6)) / 2)


def test_estimators_recover_the_truth_on_a_randomised_log_and_dr_is_exact_with_a_perfect_model():
    """Lists of 8 shown in a uniformly random order (propensity 1/8); examination 1/p; each row's
    reward is a Bernoulli of theta_p * relevance. IPS, SNIPS and DR land within their intervals of the
    true value of a candidate that ranks by a noisy relevance; with the true expected reward as the
    reward model, DR's residual term has mean 0 and DR is near the truth with a tight interval."""
    rng = np.random.default_rng(0)
    n_lists, n = 4000, 8
    list_id = np.repeat(np.arange(n_lists), n)
    relevance = rng.random(n_lists * n)
    position = np.concatenate([rng.permutation(n) + 1 for _ in range(n_lists)])
    theta = 1.0 / np.arange(1, n + 1)
    reward = (rng.random(n_lists * n) < theta[position - 1] * relevance).astype(float)
    log = LoggedLists(list_id, position, np.full(n_lists * n, 1 / n), reward)
    score = relevance + rng.normal(0, 0.3, n_lists * n)
    truth = true_value(list_id, score, relevance, theta, k=4)
    est = estimate(
        log,
        score,
        k=4,
        qhat_logged=theta[position - 1] * relevance,
        qhat_target_fn=lambda sigma: np.where(sigma <= n, theta[np.minimum(sigma, n) - 1], 0) * relevance,
        n_boot=300,
    )
    for name in ("ips", "snips", "dr", "dm", "sndr"):
        assert est[name]["ci_low"] - 0.02 <= truth <= est[name]["ci_high"] + 0.02, (name, est[name], truth)
    assert abs(est["dm"]["estimate"] - truth) < 1e-9  # the true model is the truth
    width = {name: est[name]["ci_high"] - est[name]["ci_low"] for name in est}
    assert width["dr"] < width["ips"]


def test_bad_logs_are_refused_with_one_line():
    import pandas as pd

    from models.dataset import TrainingSet
    from models.ope import lists_from

    meta = pd.DataFrame(
        {
            "job_id": ["j", "j"],
            "worker_id": ["a", "b"],
            "query": [0, 0],
            "position": [1.0, 2.0],
            "propensity": [0.5, np.nan],
        }
    )
    data = TrainingSet(np.zeros((2, 27), np.float32), np.array([0, 1], np.int32), meta)
    with pytest.raises(ValueError, match="needs a propensity on every shown event; 1 of 2"):
        lists_from(data)
    meta["propensity"] = [0.5, 0.0]
    with pytest.raises(ValueError, match="j/b has propensity 0"):
        lists_from(data)
    meta["propensity"] = [0.5, 0.5]
    meta["position"] = [1.0, 1.0]
    with pytest.raises(ValueError, match="share a position"):
        lists_from(data)
