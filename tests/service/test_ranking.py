import numpy as np

from features.pairs import FEATURE_NAMES
from matcher.explain import plural, verb, with_article
from models.heuristic import HeuristicScorer
from service.ranking import reasons, score_two_stage


class FakeModel:
    is_model = True
    version = "fake"

    def __init__(self):
        self.seen = 0

    def score(self, X):
        self.seen += len(X)
        return -X[:, FEATURE_NAMES.index("distance_km")]  # nearest first


def test_two_stage_reranks_only_the_heuristic_top():
    rng = np.random.default_rng(0)
    X = rng.random((500, len(FEATURE_NAMES))).astype(np.float32)
    eligible = rng.random(500) < 0.8
    model = FakeModel()
    score, ranked = score_two_stage(model, X, eligible, rerank_top=50)
    assert model.seen == 50 and ranked.sum() == 50 and not (ranked & ~eligible).any()
    pre = HeuristicScorer().score(X)
    assert pre[ranked].min() >= pre[eligible & ~ranked].max()  # the heuristic's best 50
    model = FakeModel()
    score, ranked = score_two_stage(model, X, eligible, rerank_top=0)
    assert model.seen == eligible.sum() and np.array_equal(ranked, eligible)
    # the heuristic itself is never pre-filtered
    h = HeuristicScorer()
    _, ranked = score_two_stage(h, X, eligible, rerank_top=50)
    assert np.array_equal(ranked, eligible)


def test_reasons_are_short_and_human():
    x = np.zeros(len(FEATURE_NAMES), dtype=np.float32)
    x[FEATURE_NAMES.index("trade_exact")] = 1
    x[FEATURE_NAMES.index("trade_years")] = 6
    x[FEATURE_NAMES.index("distance_km")] = 1.24
    x[FEATURE_NAMES.index("rating_count")] = np.log1p(15)
    x[FEATURE_NAMES.index("rating_shrunk")] = 4.66
    x[FEATURE_NAMES.index("preferred_trade")] = 1
    x[FEATURE_NAMES.index("wage_vs_min")] = 1.2
    assert reasons(x) == [
        "does this trade (6 years)",
        "wants this kind of work",
        "1.2 km away",
        "rated about 4.7 from 15 ratings",
        "pays 20% above the worker's minimum",
    ]
    # issue #20: "(1 years)", "over 1 ratings"
    x[FEATURE_NAMES.index("trade_years")] = 1
    x[FEATURE_NAMES.index("rating_count")] = np.log1p(1)
    said = reasons(x)
    assert said[0] == "does this trade (1 year)" and "rated about 4.7 from 1 rating" in said
    x[FEATURE_NAMES.index("trade_years")] = 1.5
    assert reasons(x)[0] == "does this trade (1.5 years)"


def test_english_wording_helpers():
    assert [plural(n, "job") for n in (0, 1, 2, 1.5)] == ["0 jobs", "1 job", "2 jobs", "1.5 jobs"]
    assert plural(3, "worker nearby", "workers nearby") == "3 workers nearby"
    assert with_article("electrician_cert certificate") == "an electrician_cert certificate"
    assert with_article("health_cert certificate") == "a health_cert certificate"
    assert with_article("Operator licence") == "an Operator licence"
    assert with_article("健康证 certificate") == "a 健康证 certificate"
    assert verb(1, "lacks", "lack") == "lacks" and verb(2, "lacks", "lack") == "lack"
