import numpy as np
import pytest

from features.eligibility import Reason, count_reasons, flag
from features.encode import encode_market, to_seconds
from features.history import WorkerHistory
from features.pairs import build_pairs
from features.registry import FEATURE_NAMES, FEATURES
from gigmatch.core.contract import load_market
from gigmatch.core.geo import EARTH_RADIUS_KM, haversine_km
from tests.helpers import make_market

START = "2026-10-10T08:00:00"


def one_pair(worker: dict, job: dict, employers=None, events=None, asof=None, max_km=None):
    base_w = {"worker_id": "w1", "lat": 26.70, "lon": 117.40, "skills": ""}
    base_j = {
        "job_id": "j1",
        "trade": "moving",
        "lat": 26.70,
        "lon": 117.40,
        "start_time": START,
        "posted_at": "2026-10-08T08:00:00",
        "employer_id": "e1",
    }
    m = make_market([{**base_w, **worker}], [{**base_j, **job}], employers, events)
    W, J = encode_market(m)
    H = WorkerHistory(m.events, W.ids)
    b = build_pairs(J, W, np.array([0]), np.array([0]), history=H, asof_s=asof, max_km=max_km)
    return {name: float(b.column(name)[0]) for name in FEATURE_NAMES}, b


def test_registry_documents_every_feature():
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES))
    for f in FEATURES:
        assert f.unit and f.range and f.missing and f.doc


class TestLocation:
    def test_haversine_known_values_and_pole_safety(self):
        assert haversine_km(0, 0, 1, 0) == pytest.approx(np.pi * EARTH_RADIUS_KM / 180, rel=1e-12)
        assert haversine_km(90, 0, 90, 123) == pytest.approx(0, abs=1e-9)
        antipode = haversine_km(89.9999999, 10, -89.9999999, -170)
        assert np.isfinite(antipode) and antipode == pytest.approx(np.pi * EARTH_RADIUS_KM, rel=1e-6)

    def test_distance_travel_limit_and_radius(self):
        f, b = one_pair({"lat": 26.70 + 10 / 111.19508, "max_travel_km": 8}, {})
        assert f["distance_km"] == pytest.approx(10.0, rel=1e-3)
        assert f["within_travel_limit"] == 0 and f["distance_over_travel_limit"] == pytest.approx(
            10 / 8, rel=1e-3
        )
        assert b.reason[0] == Reason.BEYOND_TRAVEL_LIMIT
        _, b = one_pair({"lat": 26.70 + 10 / 111.19508, "max_travel_km": 20}, {}, max_km=5)
        assert b.reason[0] == Reason.BEYOND_RADIUS

    def test_pool_percentile_ranks_within_each_job(self):
        workers = [
            {"worker_id": f"w{i}", "lat": 26.7 + i * 0.01, "lon": 117.4, "skills": ""} for i in range(5)
        ]
        jobs = [
            {"job_id": "a", "trade": "moving", "lat": 26.7, "lon": 117.4},
            {"job_id": "b", "trade": "moving", "lat": 26.74, "lon": 117.4},
        ]
        W, J = encode_market(make_market(workers, jobs))
        job = np.array([0, 0, 0, 1, 1, 1, 1, 1])
        wk = np.array([2, 0, 1, 0, 1, 2, 3, 4])
        pct = build_pairs(J, W, job, wk).column("distance_pct_in_pool")
        np.testing.assert_allclose(pct[:3], [1.0, 0.0, 0.5])
        # job b sits on worker 4's latitude: distances 4,3,2,1,0 hundredths -> ranks 4,3,2,1,0 of 4
        np.testing.assert_allclose(pct[3:], [1.0, 0.75, 0.5, 0.25, 0.0])


class TestSkills:
    def test_exact_match_years_and_preference(self):
        f, _ = one_pair({"skills": "welding:6;moving:2", "preferred_trades": "moving"}, {"trade": "搬运工"})
        assert (f["trade_exact"], f["trade_years"], f["trade_related_credit"], f["n_skills"]) == (1, 2, 1, 2)
        assert f["preferred_trade"] == 1

    def test_related_trade_credit_comes_from_the_taxonomy(self):
        # 瓦工 (bricklaying) job, worker who does 土建 (construction labour): credit 0.6 in taxonomy.json
        f, b = one_pair({"skills": "土建:3;cashier"}, {"trade": "瓦工"})
        assert f["trade_exact"] == 0 and f["trade_years"] == 0
        assert f["trade_related_credit"] == pytest.approx(0.6)
        assert b.reason[0] == Reason.ELIGIBLE  # related skill is enough for a skilled trade

    def test_no_preferences_is_missing_not_zero(self):
        f, _ = one_pair({"skills": "moving"}, {})
        assert np.isnan(f["preferred_trade"])

    def test_unknown_trade_codes_match_as_exact_strings(self):
        f, b = one_pair({"skills": "drone_spraying:1"}, {"trade": "drone_spraying"})
        assert f["trade_exact"] == 1 and b.reason[0] == 0
        f, b = one_pair({"skills": "moving"}, {"trade": "drone_spraying"})
        assert f["trade_exact"] == 0 and f["open_to_all"] == 0
        assert b.reason[0] == Reason.NO_MATCHING_SKILL

    def test_entry_level_trade_needs_no_skill(self):
        f, b = one_pair({"skills": ""}, {"trade": "fruit_picking"})
        assert f["open_to_all"] == 1 and b.reason[0] == 0


class TestCertificates:
    def test_certificate_valid_through_its_expiry_day(self):
        f, b = one_pair(
            {"skills": "welding", "certificates": "welding_cert@2026-10-10"}, {"trade": "welding"}
        )
        assert f["certs_required"] == 1 and f["certs_satisfied_frac"] == 1 and b.reason[0] == 0
        assert f["restricted_without_licence"] == 0

    def test_certificate_expired_the_day_before_start(self):
        f, b = one_pair(
            {"skills": "welding", "certificates": "welding_cert@2026-10-09"}, {"trade": "welding"}
        )
        assert f["certs_satisfied_frac"] == 0 and f["restricted_without_licence"] == 1
        assert b.reason[0] == Reason.CERTIFICATE_EXPIRED

    def test_missing_certificate_and_fraction(self):
        f, b = one_pair(
            {"skills": "maternity_care", "certificates": "health_cert"}, {"trade": "maternity_care"}
        )
        assert f["certs_required"] == 2 and f["certs_satisfied_frac"] == 0.5
        assert b.reason[0] == Reason.CERTIFICATE_MISSING
        assert b.flags[0] == flag(Reason.CERTIFICATE_MISSING)

    def test_job_specific_and_unknown_certificates(self):
        f, b = one_pair({"skills": "moving"}, {"required_certificates": "drone_licence"})
        assert f["certs_required"] == 1 and b.reason[0] == Reason.CERTIFICATE_MISSING
        assert f["restricted_without_licence"] == 0  # moving itself is not a restricted trade
        f, b = one_pair(
            {"skills": "moving", "certificates": "drone_licence"}, {"required_certificates": "drone_licence"}
        )
        assert b.reason[0] == 0

    def test_no_certificates_needed(self):
        f, _ = one_pair({"skills": "moving"}, {})
        assert f["certs_required"] == 0 and f["certs_satisfied_frac"] == 1


class TestTrust:
    def test_no_ratings_is_the_prior(self):
        f, _ = one_pair({"skills": "moving"}, {})
        assert f["rating_shrunk"] == pytest.approx(4.0) and f["no_show_rate_shrunk"] == pytest.approx(0.1)
        assert f["employer_rating_shrunk"] == pytest.approx(4.0)  # unknown employer

    def test_shrinkage_uses_the_count_as_confidence(self):
        few, _ = one_pair({"skills": "moving", "rating_avg": 5.0, "rating_count": 5}, {})
        many, _ = one_pair({"skills": "moving", "rating_avg": 4.4, "rating_count": 90}, {})
        assert few["rating_shrunk"] == pytest.approx((4 * 5 + 25) / 10)
        assert many["rating_shrunk"] == pytest.approx((4 * 5 + 4.4 * 90) / 95)
        f, _ = one_pair({"skills": "moving", "jobs_completed": 15, "no_shows": 5}, {})
        assert f["no_show_rate_shrunk"] == pytest.approx((0.1 * 5 + 5) / (5 + 20))
        assert f["jobs_completed"] == pytest.approx(np.log1p(15))

    def test_blacklisted_employer_is_excluded(self):
        emp = [{"employer_id": "e1", "rating_avg": 3.0, "rating_count": 5, "blacklisted": "true"}]
        f, b = one_pair({"skills": "moving"}, {}, employers=emp)
        assert f["employer_blacklisted"] == 1 and f["employer_rating_shrunk"] == pytest.approx(3.5)
        assert b.reason[0] == Reason.EMPLOYER_BLACKLISTED
        assert count_reasons(b.reason) == {"employer_blacklisted": 1}


class TestPointInTime:
    EVENTS = [
        {"ts": "2026-10-01T10:00:00", "job_id": "j1", "worker_id": "w1", "event": "applied"},
        {"ts": "2026-10-02T17:00:00", "job_id": "j1", "worker_id": "w1", "event": "completed"},
        {"ts": "2026-10-03T09:00:00", "job_id": "j1", "worker_id": "w1", "event": "rated", "rating": "5"},
        # after the as-of time below: must not leak into the features
        {"ts": "2026-10-09T17:00:00", "job_id": "j1", "worker_id": "w1", "event": "no_show"},
        {"ts": "2026-10-09T18:00:00", "job_id": "j1", "worker_id": "w1", "event": "rated", "rating": "1"},
    ]

    def test_future_events_do_not_change_features(self):
        asof = to_seconds("2026-10-05T00:00:00")
        with_future, _ = one_pair({"skills": "moving"}, {}, events=self.EVENTS, asof=asof)
        past_only, _ = one_pair({"skills": "moving"}, {}, events=self.EVENTS[:3], asof=asof)
        np.testing.assert_equal(with_future, past_only)  # NaN-aware equality
        assert with_future["rating_shrunk"] == pytest.approx((20 + 5) / 6)
        assert with_future["jobs_completed"] == pytest.approx(np.log1p(1))
        assert with_future["days_since_last_activity"] == pytest.approx(2 + 7 / 24, rel=1e-5)
        assert with_future["apply_rate_shrunk"] == pytest.approx((0.4 * 5 + 1) / (5 + 0))
        assert with_future["hire_rate_shrunk"] == pytest.approx((0.4 * 5 + 0) / (5 + 1))
        later, _ = one_pair(
            {"skills": "moving"}, {}, events=self.EVENTS, asof=to_seconds("2026-10-10T00:00:00")
        )
        assert later["rating_shrunk"] == pytest.approx((20 + 6) / 7)
        assert later["no_show_rate_shrunk"] == pytest.approx((0.5 + 1) / (5 + 2))

    def test_event_exactly_at_asof_is_not_yet_known(self):
        f, _ = one_pair({"skills": "moving"}, {}, events=self.EVENTS, asof=to_seconds("2026-10-02T17:00:00"))
        assert f["jobs_completed"] == 0


class TestEconomicsAndTime:
    def test_wage_ratios(self):
        f, _ = one_pair({"skills": "moving", "min_daily_wage": 200}, {"daily_wage": 250})
        assert f["wage_vs_min"] == pytest.approx(1.25) and f["wage_vs_trade_median"] == pytest.approx(1.0)
        f, _ = one_pair({"skills": "moving"}, {"daily_wage": 250})
        assert np.isnan(f["wage_vs_min"])

    def test_availability_window(self):
        f, _ = one_pair({"skills": "moving", "available_from": "2026-10-11"}, {})
        assert f["available_at_start"] == 0
        f, _ = one_pair({"skills": "moving", "available_until": "2026-10-10"}, {})
        assert f["available_at_start"] == 1
        f, _ = one_pair({"skills": "moving"}, {})
        assert f["available_at_start"] == 1


def test_batch_and_single_job_paths_are_bit_identical(small_market_dir):
    m = load_market(small_market_dir)
    W, J = encode_market(m)
    H = WorkerHistory(m.events, W.ids)
    rng = np.random.default_rng(0)
    jobs = rng.choice(len(J), 25, replace=False)
    cands = [rng.choice(len(W), 300, replace=False) for _ in jobs]
    job = np.repeat(jobs, 300)
    worker = np.concatenate(cands)
    asof = to_seconds("2026-09-15")
    batch = build_pairs(J, W, job, worker, history=H, asof_s=asof, max_km=12.0)
    for k, j in enumerate(jobs):
        single = build_pairs(J, W, np.full(300, j), cands[k], history=H, asof_s=asof, max_km=12.0)
        sl = slice(300 * k, 300 * (k + 1))
        assert np.array_equal(single.X, batch.X[sl], equal_nan=True)
        assert np.array_equal(single.reason, batch.reason[sl])
        assert np.array_equal(single.flags, batch.flags[sl])
