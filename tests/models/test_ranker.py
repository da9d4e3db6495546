import numpy as np
import pandas as pd
import pytest

from gigmatch.core.contract import load_market, validate_table
from models.dataset import build_training_set, time_split
from models.heuristic import HeuristicScorer
from models.labels import graded_labels
from models.metrics import mean_average_precision, ndcg_at_k, recall_at_k
from models.ranker import GigRanker


def ev(rows):
    return validate_table(
        pd.DataFrame(rows, columns=["ts", "job_id", "worker_id", "event", "rating"])
        .astype(str)
        .replace("nan", ""),
        "events",
    )


def test_labels_follow_the_documented_grading():
    t = "2026-10-01T0{}:00:00"
    events = ev(
        [
            (t.format(1), "j", "a", "shown", None),
            (t.format(1), "j", "b", "shown", None),
            (t.format(2), "j", "b", "applied", None),
            (t.format(1), "j", "c", "shown", None),
            (t.format(2), "j", "c", "applied", None),
            (t.format(3), "j", "c", "hired", None),
            (t.format(1), "j", "d", "shown", None),
            (t.format(3), "j", "d", "hired", None),
            (t.format(4), "j", "d", "completed", None),
            (t.format(1), "j", "e", "shown", None),
            (t.format(4), "j", "e", "completed", None),
            (t.format(5), "j", "e", "rated", 5),
            (t.format(1), "j", "f", "shown", None),
            (t.format(4), "j", "f", "completed", None),
            (t.format(5), "j", "f", "rated", 4),
            (t.format(1), "j", "g", "shown", None),
            (t.format(3), "j", "g", "hired", None),
            (t.format(4), "j", "g", "no_show", None),
            (t.format(1), "j", "h", "shown", None),
            (t.format(2), "j", "h", "declined", None),
            (t.format(2), "j", "x", "applied", None),  # never shown: not a training row
        ]
    )
    got = graded_labels(events).set_index("worker_id")["label"].to_dict()
    assert got == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 4, "f": 3, "g": 0, "h": 0}


def test_metrics_on_a_hand_computed_query():
    group = np.array([0, 0, 0, 1, 1])
    y = np.array([0, 2, 1, 0, 0])
    score = np.array([3.0, 2.0, 1.0, 1.0, 0.0])
    dcg = 3 / np.log2(3) + 1 / np.log2(4)
    idcg = 3 + 1 / np.log2(3)
    assert ndcg_at_k(group, y, score, 10) == pytest.approx((dcg / idcg + 0) / 2)
    assert mean_average_precision(group, y, score) == pytest.approx(((1 / 2 + 2 / 3) / 2 + 0) / 2)
    assert recall_at_k(group, y, score, k=1) == pytest.approx(0.0)
    assert recall_at_k(group, y, score, k=2) == pytest.approx(0.25)


@pytest.fixture(scope="module")
def training_set(small_market_dir):
    return build_training_set(load_market(small_market_dir))


def test_time_split_has_no_overlap_and_keeps_jobs_whole(training_set):
    tr, va, te = time_split(training_set)
    m = training_set.meta
    assert len(tr) and len(va) and len(te)
    assert len(np.intersect1d(tr, va)) == len(np.intersect1d(va, te)) == len(np.intersect1d(tr, te)) == 0
    assert len(tr) + len(va) + len(te) == len(m)
    assert m["query_ts"].iloc[tr].max() < m["query_ts"].iloc[va].min()
    assert m["query_ts"].iloc[va].max() < m["query_ts"].iloc[te].min()
    jobs = [set(m["job_id"].iloc[p]) for p in (tr, va, te)]
    assert not (jobs[0] & jobs[1]) and not (jobs[1] & jobs[2]) and not (jobs[0] & jobs[2])


def test_ranker_beats_distance_and_heuristic_baselines(training_set, small_market_dir):
    tr, va, te = time_split(training_set)
    train, valid, test = (training_set.subset(p) for p in (tr, va, te))
    ranker = GigRanker(random_state=0).fit(
        train.X, train.y, train.group_sizes, eval_set=(valid.X, valid.y), eval_group=valid.group_sizes
    )
    g, y = test.meta["query"].to_numpy(), test.y
    model = ndcg_at_k(g, y, ranker.predict(test.X))
    distance = ndcg_at_k(g, y, -test.X[:, 0])
    heuristic = ndcg_at_k(g, y, HeuristicScorer().score(test.X))
    oracle_tab = pd.read_csv(small_market_dir / "truth" / "oracle.csv")
    oracle = test.meta.merge(oracle_tab, on=["job_id", "worker_id"], how="left")["expected_gain"].to_numpy()
    best = ndcg_at_k(g, y, oracle)
    assert model > distance and model > heuristic
    assert model <= best + 0.02  # no model beats the oracle by more than noise
