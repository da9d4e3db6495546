import numpy as np
import pandas as pd
import pytest

from gigmatch.core.contract import load_market
from gigmatch.core.geo import haversine_km
from gigmatch.core.regions import find_region
from gigmatch.sim import SimulationConfig, simulate_market

ORDER = {"shown": 0, "declined": 1, "applied": 1, "hired": 2, "completed": 3, "no_show": 3, "rated": 4}


def test_same_seed_same_market_other_seed_differs():
    cfg = SimulationConfig(region="临邑县", workers=400, jobs=80, days=5, seed=11)
    a, oa = simulate_market(cfg)
    b, ob = simulate_market(cfg)
    pd.testing.assert_frame_equal(a.workers, b.workers)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(oa, ob)
    c, _ = simulate_market(SimulationConfig(region="临邑县", workers=400, jobs=80, days=5, seed=12))
    assert not np.allclose(a.workers["lat"], c.workers["lat"])


@pytest.mark.parametrize("region", ["将乐县", "仁寿县", "福建省福州市鼓楼区"])
def test_coordinates_stay_inside_the_county(region):
    market, _ = simulate_market(SimulationConfig(region=region, workers=500, jobs=100, days=3, seed=1))
    r = find_region(region)
    for table in (market.workers, market.jobs):
        d = haversine_km(r.lat, r.lon, table["lat"].to_numpy(), table["lon"].to_numpy())
        assert d.max() <= r.radius_km + 0.01


def test_ambiguous_and_unknown_regions_are_refused():
    with pytest.raises(ValueError, match="ambiguous"):
        find_region("鼓楼区")
    with pytest.raises(ValueError, match="not found"):
        find_region("不存在县")


def test_written_market_is_valid_and_events_are_causal(small_market_dir):
    market = load_market(small_market_dir)  # the contract validator accepts the simulator's output
    ev = market.events
    ev = ev.assign(stage=ev["event"].map(ORDER))
    # per pair, every event of a later stage comes no earlier than every event of an earlier stage
    span = ev.groupby(["job_id", "worker_id", "stage"])["ts"].agg(["min", "max"]).reset_index()
    span = span.sort_values(["job_id", "worker_id", "stage"])
    same_pair = (span["job_id"].shift() == span["job_id"]) & (span["worker_id"].shift() == span["worker_id"])
    assert (span["min"][same_pair].to_numpy() >= span["max"].shift()[same_pair].to_numpy()).all()
    first = ev.sort_values("ts", kind="stable").groupby(["job_id", "worker_id"])["event"].first()
    assert (first == "shown").all()
    # never shown: jobs of blacklisted employers
    bl = set(market.employers.loc[market.employers["blacklisted"], "employer_id"])
    shown_jobs = set(ev["job_id"])
    assert not any(j in shown_jobs for j in market.jobs.loc[market.jobs["employer_id"].isin(bl), "job_id"])


def test_acceptance_falls_with_distance_and_rises_with_wage(small_market_dir):
    m = load_market(small_market_dir)
    shown = m.events[m.events["event"] == "shown"][["job_id", "worker_id"]]
    applied = m.events[m.events["event"] == "applied"][["job_id", "worker_id"]].assign(applied=1)
    pairs = shown.merge(applied, how="left").fillna({"applied": 0})
    pairs = pairs.merge(m.jobs[["job_id", "lat", "lon", "daily_wage"]], on="job_id")
    pairs = pairs.merge(
        m.workers[["worker_id", "lat", "lon", "min_daily_wage"]], on="worker_id", suffixes=("_j", "_w")
    )
    d = haversine_km(pairs["lat_j"], pairs["lon_j"], pairs["lat_w"], pairs["lon_w"])
    ratio = pairs["daily_wage"] / pairs["min_daily_wage"]
    rate = pairs["applied"].to_numpy()
    near, far = rate[d < np.quantile(d, 0.25)].mean(), rate[d > np.quantile(d, 0.75)].mean()
    low, high = rate[ratio < np.quantile(ratio, 0.25)].mean(), rate[ratio > np.quantile(ratio, 0.75)].mean()
    assert near > far + 0.05
    assert high > low + 0.05


def test_oracle_is_beside_not_inside_the_market(small_market_dir):
    oracle = pd.read_csv(small_market_dir / "truth" / "oracle.csv")
    market = load_market(small_market_dir)
    assert len(oracle) == (market.events["event"] == "shown").sum()
    assert oracle["expected_label"].between(0, 4).all()
    assert not (small_market_dir / "oracle.csv").exists()


def test_hundred_thousand_workers_is_vectorised():
    # Not a timing assert: 100k workers must at least run; benchmarks/bench_simulate.py prints the time.
    market, oracle = simulate_market(SimulationConfig(workers=100_000, jobs=500, days=2, seed=5))
    assert len(market.workers) == 100_000 and len(oracle) > 0


def test_oracle_without_pair_noise_is_the_average_over_that_noise(small_market_dir):
    oracle = pd.read_csv(small_market_dir / "truth" / "oracle.csv")
    full, no_noise = oracle["expected_gain"], oracle["expected_gain_no_pair_noise"]
    assert (no_noise >= 0).all() and not np.allclose(full, no_noise)
    # z1 is independent of everything else, so averaging over it keeps the mean gain (up to sampling)
    assert abs(full.mean() - no_noise.mean()) < 0.03 * full.mean()
    assert 0.8 < np.corrcoef(full, no_noise)[0, 1] < 1.0


def test_position_bias_logs_exact_propensities_and_only_examined_offers_are_taken():
    """With position bias the market and the outcomes given examination are those of the unbiased
    simulation (own seed stream); positions are 1..n per list; propensities are the documented exact
    marginals (each position's propensities sum to 1 over the list's workers in expectation, and the
    heuristic-ordered lists carry 1 - e + e / n); examination falls with position; unexamined offers
    have only their `shown` event."""
    from gigmatch.sim.positions import examination_probability

    cfg = dict(region="临邑县", workers=800, jobs=200, days=5, seed=5)
    plain, o_plain = simulate_market(SimulationConfig(**cfg))
    biased, o = simulate_market(SimulationConfig(**cfg, position_bias=True, exploration=0.4))
    pd.testing.assert_frame_equal(plain.workers, biased.workers)
    assert plain.events["position"].isna().all() and (plain.events["policy"] == "").all()
    assert np.allclose(o_plain["expected_gain"], o["expected_gain"])
    shown = biased.events[biased.events["event"] == "shown"]
    assert (shown["policy"] == "sim-logging-v1").all() and shown["position"].notna().all()
    per_list = o.groupby("job_id")["position"].agg(["min", "max", "size", "nunique"])
    assert (per_list["min"] == 1).all() and (per_list["max"] == per_list["size"]).all()
    assert (per_list["nunique"] == per_list["size"]).all()
    n = o.groupby("job_id")["position"].transform("size")
    assert np.allclose(np.sort(np.unique(np.round(o["propensity"] - 0.4 / n, 9))), [0.0, 0.6])
    assert np.allclose(o["examination"], examination_probability(o["position"], 0.5))
    # applying needs examination; given examination the outcome is the one drawn without bias
    applied = biased.events[biased.events["event"] == "applied"][["job_id", "worker_id"]]
    key = o.set_index(["job_id", "worker_id"])
    assert key.loc[list(map(tuple, applied.to_numpy())), "examined"].all()
    plain_applied = set(
        map(tuple, plain.events.loc[plain.events["event"] == "applied", ["job_id", "worker_id"]].to_numpy())
    )
    examined_pairs = set(map(tuple, o.loc[o["examined"], ["job_id", "worker_id"]].to_numpy()))
    assert set(map(tuple, applied.to_numpy())) == plain_applied & examined_pairs
    from models.labels import graded_labels

    plain_labels = graded_labels(plain.events).merge(o, on=["job_id", "worker_id"])
    assert (plain_labels["label"] == plain_labels["label_if_examined"]).all()
    # examination falls with position: the top third of lists is examined far more than the bottom
    top, bottom = o[o["position"] <= 5]["examined"].mean(), o[o["position"] > 20]["examined"].mean()
    assert top > 0.6 and bottom < 0.3


def test_hours_come_from_their_own_stream_and_take_no_other_draw():
    """Working hours are drawn beside the market: every pair, outcome and posting stays as it was."""
    from gigmatch.core.hours import parse_hours
    from gigmatch.sim.config import SimulationConfig
    from gigmatch.sim.simulate import simulate_market

    market, oracle = simulate_market(SimulationConfig(workers=600, jobs=200, days=7, seed=3))
    hours = market.workers["available_hours"]
    assert 0.2 < (hours != "").mean() < 0.4  # school-hours mothers, evenings, early risers
    assert all(parse_hours(h) is not None for h in hours.unique())
    clock = market.jobs["start_time"].dt.hour
    assert clock.nunique() >= 4 and (market.jobs["end_time"] > market.jobs["start_time"]).all()
    # the pairs and outcomes are those of the main stream: the same seed without hours gives the same
    import gigmatch.sim.simulate as sim

    saved = sim.draw_hours
    sim.draw_hours = lambda seed, workers, jobs: (workers, jobs)
    try:
        bare, bare_oracle = simulate_market(SimulationConfig(workers=600, jobs=200, days=7, seed=3))
    finally:
        sim.draw_hours = saved
    assert oracle.equals(bare_oracle)
    cols = ["job_id", "worker_id", "event"]
    assert (
        market.events[cols].sort_values(cols).values.tolist()
        == bare.events[cols].sort_values(cols).values.tolist()
    )
    assert market.jobs["posted_at"].equals(bare.jobs["posted_at"])
    assert (market.jobs["start_time"].dt.normalize() == bare.jobs["start_time"].dt.normalize()).all()
