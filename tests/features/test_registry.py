"""The feature registry and its families: names, column order, assembly by name, lookups, fingerprints."""

from types import SimpleNamespace

import numpy as np
import pytest

import features.pairs
from features import certificates, registry
from features.context import PairContext
from features.encode import encode_market, to_seconds
from features.history import WorkerHistory
from features.pairs import build_pairs
from features.registry import COLUMN_ORDER, FAMILIES, FEATURE_INDEX, FEATURE_NAMES, FEATURES, Feature, column
from gigmatch.core.contract import load_market
from models.registry import feature_schema_hash


@pytest.fixture(scope="module")
def tables(small_market_dir):
    m = load_market(small_market_dir)
    W, J = encode_market(m)
    return W, J, WorkerHistory(m.events, W.ids)


def random_pairs(J, W, n: int, seed: int):
    rng = np.random.default_rng(seed)
    job, worker = rng.integers(0, len(J), n), rng.integers(0, len(W), n)
    return job, worker, J.posted_s[job] + rng.uniform(0, 2 * 86_400, n)  # per-pair as-of times


def test_every_feature_comes_from_exactly_one_family(tables):
    W, J, H = tables
    job, worker, asof = random_pairs(J, W, 2_000, seed=1)
    ctx = PairContext.build(J, W, job, worker, history=H, asof_s=asof)
    produced_by: dict[str, list[str]] = {}
    for family in FAMILIES:
        out = family.compute(ctx)
        assert list(out) == [f.name for f in family.FEATURES], family.__name__  # declared = computed
        for name, values in out.items():
            produced_by.setdefault(name, []).append(family.__name__)
            assert values.shape == (ctx.n_pairs,) and values.dtype in (np.bool_, np.float64), name
    unknown = set(produced_by) - set(FEATURE_NAMES)
    assert not unknown, f"families produce names the registry does not know: {sorted(unknown)}"
    assert {name: len(produced_by.get(name, [])) for name in FEATURE_NAMES} == dict.fromkeys(FEATURE_NAMES, 1)


def test_column_order_index_and_reexports():
    assert FEATURE_NAMES == COLUMN_ORDER and len(FEATURE_NAMES) == 27
    assert [f.name for f in FEATURES] == list(FEATURE_NAMES)
    assert all(FEATURE_INDEX[name] == i for i, name in enumerate(FEATURE_NAMES))
    assert len(FEATURE_INDEX) == len(FEATURE_NAMES)
    # callers that import from features.pairs keep working, with the very same objects
    assert features.pairs.FEATURES is FEATURES and features.pairs.FEATURE_NAMES is FEATURE_NAMES
    assert features.pairs.Feature is Feature


def test_schema_hash_of_trained_models_is_unchanged():
    # the hash every trained model records: changing a record's text or the column order breaks
    # loading existing models, so this changes only together with a retrain
    assert feature_schema_hash() == "f501a5f630adf909"


def test_assemble_refuses_duplicates_and_unplaced_features():
    a, b = Feature("a", "flag", "{0, 1}", "0", "a"), Feature("b", "flag", "{0, 1}", "0", "b")
    one, two = SimpleNamespace(FEATURES=(a,)), SimpleNamespace(FEATURES=(b,))
    assert registry._assemble((one, two), ("b", "a")) == (b, a)
    with pytest.raises(ValueError, match="more than one family"):
        registry._assemble((one, one), ("a",))
    with pytest.raises(ValueError, match="unplaced: \\['b'\\]"):
        registry._assemble((one, two), ("a",))
    with pytest.raises(ValueError, match="undeclared: \\['c'\\]"):
        registry._assemble((one, two), ("a", "b", "c"))
    with pytest.raises(ValueError, match="listed twice: \\['a'\\]"):
        registry._assemble((one, two), ("a", "b", "a"))


def test_matrix_columns_are_the_family_columns_by_name(tables):
    W, J, H = tables
    job, worker, asof = random_pairs(J, W, 3_000, seed=2)
    batch = build_pairs(J, W, job, worker, history=H, asof_s=asof, max_km=12.0)
    assert batch.X.dtype == np.float32 and batch.X.flags.f_contiguous
    assert batch.X.shape == (3_000, len(FEATURE_NAMES))
    ctx = PairContext.build(J, W, job, worker, history=H, asof_s=asof)
    for family in FAMILIES:
        for name, values in family.compute(ctx).items():
            np.testing.assert_array_equal(batch.X[:, FEATURE_INDEX[name]], values.astype(np.float32), name)
    np.testing.assert_array_equal(batch.distance_km, ctx.distance_km)


def test_certificate_check_is_computed_once_per_context(tables):
    W, J, H = tables
    job, worker, asof = random_pairs(J, W, 100, seed=3)
    ctx = PairContext.build(J, W, job, worker, asof_s=asof)
    assert certificates.check(ctx) is certificates.check(ctx)
    other = PairContext.build(J, W, job, worker, asof_s=asof)
    assert certificates.check(other) is not certificates.check(ctx)


def test_column_reads_a_named_feature_as_float64():
    X = np.asfortranarray(np.random.default_rng(0).random((5, len(FEATURE_NAMES))).astype(np.float32))
    col = column(X, "wage_vs_min")
    assert col.dtype == np.float64 and col.shape == (5,)
    np.testing.assert_array_equal(col, X[:, FEATURE_INDEX["wage_vs_min"]])
    X64 = X.astype(np.float64)
    assert np.shares_memory(column(X64, "distance_km"), X64)  # no copy when already float64
    with pytest.raises(KeyError, match="unknown feature 'wage'"):
        column(X, "wage")
    with pytest.raises(ValueError, match="expected \\(n_pairs, 27\\)"):
        column(X[:, :-1], "distance_km")
    with pytest.raises(ValueError):
        column(X[0], "distance_km")


# Weighted column sums (and NaN counts) of build_pairs on the session market, for one job x all
# workers (scalar as-of, the API path) and for 20,000 random pairs (per-pair as-of, training). They
# were identical before features became families; a change here is a change of feature values,
# which trained models would silently misread: change it together with the schema and a retrain.
# The history columns moved when the simulator gave jobs shift times (#15): completions and ratings
# are logged at a job's end, so the same market's events carry other times; the feature code did not change.
FINGERPRINT = {
    "distance_km": ((91067.73384, 0), (681841.9105, 0)),
    "within_travel_limit": ((9473, 0), (60108, 0)),
    "distance_over_travel_limit": ((8142.256883, 0), (60911.62814, 0)),
    "distance_pct_in_pool": ((5968.390467, 0), (39980.08403, 0)),
    "trade_exact": ((874, 0), (5507, 0)),
    "trade_years": ((3732, 0), (20431, 0)),
    "trade_related_credit": ((1504, 0), (10105.80006, 0)),
    "n_skills": ((19596, 0), (131680, 0)),
    "preferred_trade": ((786, 459), (4771, 2998)),
    "certs_required": ((0, 0), (19592, 0)),
    "certs_satisfied_frac": ((11994, 0), (63738.5, 0)),
    "restricted_without_licence": ((0, 0), (16158, 0)),
    "open_to_all": ((11994, 0), (48164, 0)),
    "rating_shrunk": ((47937.78617, 0), (319862.8179, 0)),
    "rating_count": ((15796.82479, 0), (104833.1023, 0)),
    "jobs_completed": ((20666.66243, 0), (136949.1318, 0)),
    "no_show_rate_shrunk": ((1012.293299, 0), (6677.886757, 0)),
    "apply_rate_shrunk": ((4733.494423, 0), (31510.07733, 0)),
    "hire_rate_shrunk": ((4757.209106, 0), (31970.00393, 0)),
    "shown_count": ((15427.61019, 0), (83194.18156, 0)),
    "employer_rating_shrunk": ((44966.59637, 0), (316679.5979, 0)),
    "employer_blacklisted": ((0, 0), (429, 0)),
    "wage_vs_min": ((9427.196566, 0), (111888.7118, 0)),
    "wage_vs_trade_median": ((12515.47814, 0), (81800.68476, 0)),
    "available_at_start": ((11994, 0), (79997, 0)),
    "days_since_last_activity": ((1338279.611, 0), (12090398.04, 0)),
    "days_since_registered": ((4513630, 0), (29889160.33, 0)),
}
# (reason counts by code, weighted sum of flag sets, weighted sum of missing_cert + 1)
ELIGIBILITY = (
    ([2098, 0, 0, 0, 0, 651, 251], 129456, 0),
    ([7929, 104, 4066, 44, 3686, 3134, 1037], 1153599, 1237418),
)


def test_feature_values_match_their_fingerprint(tables):
    W, J, H = tables
    single = build_pairs(
        J, W, np.full(len(W), 5), np.arange(len(W)), history=H, asof_s=to_seconds("2026-09-15"), max_km=12.0
    )
    rng = np.random.default_rng(12)
    job, worker = rng.integers(0, len(J), 20_000), rng.integers(0, len(W), 20_000)
    asof = J.posted_s[job] + rng.uniform(0, 2 * 86_400, 20_000)
    batch = build_pairs(J, W, job, worker, history=H, asof_s=asof, max_km=12.0)
    for k, b in enumerate((single, batch)):
        w = 1 + np.arange(len(b.reason)) % 7  # weights rows, so that a permutation of rows shows
        for name in FEATURE_NAMES:
            x = b.column(name)
            expected_sum, expected_nan = FINGERPRINT[name][k]
            assert int(np.isnan(x).sum()) == expected_nan, name
            assert np.nansum(x * w) == pytest.approx(expected_sum, rel=1e-6, abs=1e-3), name
        reasons, flags, missing = ELIGIBILITY[k]
        assert np.bincount(b.reason, minlength=7).tolist() == reasons
        assert int(np.sum(b.flags.astype(np.int64) * w)) == flags
        assert int(np.sum((b.missing_cert + 1) * w)) == missing
