"""Calibrated match probability: isotonic on a held-out period improves ECE on other held-out data."""

import numpy as np
import pytest
from scipy.special import expit

from gigmatch.core.contract import load_market
from models.calibration import (
    Calibration,
    calibration_report,
    completed,
    expected_calibration_error,
    fit_calibration,
    p_match,
    reliability_curve,
)
from models.dataset import build_training_set, time_split
from models.heuristic import HeuristicScorer
from models.registry import Registry
from models.train import train


def test_isotonic_fixes_a_miscalibrated_score():
    rng = np.random.default_rng(0)
    score = rng.normal(0, 1.5, 40_000)
    truth = expit(1.3 * score - 2.0)  # the true probability; the raw score's sigmoid overstates it
    y = rng.random(len(score)) < truth
    fit, held = slice(0, 20_000), slice(20_000, None)
    cal = fit_calibration(score[fit], y[fit], fitted_on="first half")
    raw = expected_calibration_error(expit(score[held]), y[held])
    after = expected_calibration_error(cal.predict(score[held]), y[held])
    assert after < 0.02 < 0.1 < raw
    assert np.all(np.diff(cal.y) >= 0) and cal.info["fitted_on"] == "first half"
    assert np.allclose(Calibration.from_dict(cal.to_dict()).predict(score[:50]), cal.predict(score[:50]))


def test_ece_and_reliability_by_hand():
    p = np.array([0.05, 0.05, 0.95, 0.95])
    y = np.array([0, 1, 1, 1], bool)
    assert expected_calibration_error(p, y) == pytest.approx((2 * 0.45 + 2 * 0.05) / 4)
    curve = reliability_curve(p, y)
    assert [c["pairs"] for c in curve] == [2, 2] and curve[0]["rate"] == 0.5
    with pytest.raises(ValueError, match="calibration needs"):
        fit_calibration([0.1], [True])


def test_heuristic_calibration_improves_ece_on_another_market(small_market_dir):
    """The shipped heuristic calibration was fitted on another county and seed; it still helps here."""
    data = build_training_set(load_market(small_market_dir))
    h = HeuristicScorer()
    rep = calibration_report(h.match_weight(data.X), p_match(h, data.X), data.y)
    assert rep["ece"] < rep["ece_uncalibrated"] / 3


def test_trained_model_stores_its_calibration(small_market_dir, tmp_path):
    scorer, meta = train(small_market_dir, tmp_path / "reg", seed=2)
    cal = meta["calibration"]
    assert cal["method"] == "isotonic" and cal["fitted_on"] == "valid"
    assert cal["period"]["from"] == meta["data"]["valid"]["from"]  # a held-out period, not the test one
    test_cal = meta["metrics"]["test"]["calibration"]
    assert test_cal["ece"] < test_cal["ece_uncalibrated"]
    assert test_cal["reliability"] and sum(b["pairs"] for b in test_cal["reliability"]) == test_cal["pairs"]
    loaded = Registry(tmp_path / "reg").load_current()  # read back from the artifact
    data = build_training_set(load_market(small_market_dir))
    _, _, te = time_split(data)
    p = p_match(loaded, data.X[te])
    assert p.min() >= 0 and p.max() <= 1
    assert abs(p.mean() - completed(data.y[te]).mean()) < 0.05
