"""The grading is defined once (models.labels): the event log's labels and the simulator's oracle agree."""

import numpy as np
import pandas as pd
import pytest

from gigmatch.core.contract import load_market
from gigmatch.sim.behaviour import P_RATED
from models.labels import HIRED, LABELS, MAX_LABEL, NO_MATCH, graded_labels, label_distribution, label_gain


def test_gain_and_distribution_shapes():
    assert label_gain(LABELS).tolist() == [0.0, 1.0, 3.0, 7.0, 15.0]
    rng = np.random.default_rng(0)
    p = rng.random((4, 1000))
    dist = label_distribution(p[0], p[1], p[2], 0.7, p[3])
    assert dist.shape == (1000, MAX_LABEL + 1)
    np.testing.assert_allclose(dist.sum(axis=1), 1.0)
    assert (dist >= -1e-12).all() and (dist[:, HIRED] == 0).all()
    # a certain no-show is graded like a pair that never applied
    no_show = label_distribution(np.ones(1), np.ones(1), np.zeros(1), 0.7, np.ones(1))
    assert no_show[0, NO_MATCH] == 1.0


def test_oracle_expects_the_labels_the_event_log_gets(small_market_dir):
    oracle = pd.read_csv(small_market_dir / "truth" / "oracle.csv")
    labels = graded_labels(load_market(small_market_dir).events)
    x = labels.merge(oracle, on=["job_id", "worker_id"], validate="one_to_one")
    assert len(x) == len(oracle) == len(labels)
    dist = label_distribution(x["p_apply"], x["p_hire"], x["p_complete"], P_RATED, x["p_top_rating"])
    np.testing.assert_allclose(x["expected_label"], dist @ LABELS, atol=1e-9)
    np.testing.assert_allclose(x["expected_gain"], dist @ label_gain(LABELS), atol=1e-9)
    # realised labels: frequencies and mean within sampling error (~18k pairs) of the oracle's
    freq = np.bincount(x["label"], minlength=MAX_LABEL + 1) / len(x)
    np.testing.assert_allclose(freq, dist.mean(axis=0), atol=0.01)
    assert x["label"].mean() == pytest.approx(x["expected_label"].mean(), abs=0.015)
    assert label_gain(x["label"]).mean() == pytest.approx(x["expected_gain"].mean(), abs=0.04)
