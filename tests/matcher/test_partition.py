"""The partitioned batch run against the whole-market run: same optimum, same assignments, same reasons."""

import json

import numpy as np
import pandas as pd
import pytest

from gigmatch.cli import main
from gigmatch.core.contract import load_market, write_market
from matcher.batch import run_batch
from matcher.partition import plan_partitions, read_validated, run_partitioned, write_validated
from models.heuristic import HeuristicScorer
from tests.helpers import make_market

ASOF = 1.79e9
LAT, LON = 26.70, 117.40
KM = 1 / 111.19508  # degrees of latitude per km


def _read(out, name, key):
    return pd.read_csv(out / f"{name}.csv", keep_default_na=False).sort_values(key).reset_index(drop=True)


def assert_same_run(single, out):
    """Every output row of the partitioned run in ``out`` equals the whole-market run's."""
    a = _read(out, "assignments", ["job_id", "worker_id"])
    b = single.assignments.sort_values(["job_id", "worker_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    u = _read(out, "unfilled_jobs", "job_id")
    v = single.unfilled_jobs.sort_values("job_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(u, v.astype({"detail": str}), check_dtype=False)
    x = _read(out, "unmatched_workers", "worker_id")
    y = single.unmatched_workers.sort_values("worker_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(x, y, check_dtype=False)
    for name in (
        "assignments",
        "unfilled_jobs",
        "unmatched_workers",
    ):  # the Parquet outputs hold the same rows
        assert len(pd.read_parquet(out / f"{name}.parquet")) == len(pd.read_csv(out / f"{name}.csv"))
    s = json.loads((out / "summary.json").read_text())
    for key in ("slots", "filled", "total_score", "candidate_pairs", "eligible_pairs", "candidate_rounds"):
        assert s[key] == single.summary[key], key
    assert s["unfilled_reasons"] == single.summary["unfilled_reasons"]
    assert s["unmatched_reasons"] == single.summary["unmatched_reasons"]
    return s


@pytest.fixture(scope="module")
def market(small_market_dir):
    return load_market(small_market_dir)


@pytest.fixture(scope="module")
def single(market):
    return run_batch(market, HeuristicScorer(), asof_s=ASOF)


def test_partitioned_run_equals_the_whole_market_run_across_partition_edges(market, single, tmp_path):
    """5 km cells under a 15 km radius: every job's candidates cross cell edges, the partitions'
    own optima over-use shared workers, and the priced reconciliation must bring back edges."""
    s = run_partitioned(market, tmp_path, partition_km=5, asof_s=ASOF)
    assert len(s["partitions"]) > 4
    first = s["reconciliation"][0]
    assert first["crossing_workers"] > 0 and first["conflicting_workers"] > 0
    assert all(g["certified"] for r in s["reconciliation"] for g in r["groups"])
    assert max(g["pricing_rounds"] for r in s["reconciliation"] for g in r["groups"]) >= 2
    assert_same_run(single, tmp_path)
    assert all(e["seconds"] > 0 and e["worker_process_peak_rss_mb"] > 0 for e in s["partitions"])
    assert s["driver_peak_rss_mb"] > 0 and (tmp_path / "report.html").stat().st_size > 1000


def test_partitions_that_share_no_worker_are_solved_independently(market, single, tmp_path):
    s = run_partitioned(market, tmp_path, partition_km=500, asof_s=ASOF)
    assert len([e for e in s["partitions"] if e["jobs"]]) == 1
    assert all(not r["groups"] for r in s["reconciliation"])
    assert_same_run(single, tmp_path)


def _two_sites():
    """Job a and job b, 3 km apart in different 2 km cells; worker x halfway is the nearest for
    both, worker y is 4 km beyond b (7 km from a, beyond a 5 km radius). Each partition alone gives
    its job worker x; only a takes x and b takes y fills both."""
    workers = [
        {"worker_id": "x", "lat": LAT + 1.5 * KM, "lon": LON, "skills": "moving"},
        {"worker_id": "y", "lat": LAT + 7 * KM, "lon": LON, "skills": "moving"},
    ]
    jobs = [
        {"job_id": "a", "trade": "moving", "lat": LAT, "lon": LON},
        {"job_id": "b", "trade": "moving", "lat": LAT + 3 * KM, "lon": LON},
    ]
    return make_market(workers, jobs)


def test_a_constructed_boundary_conflict_is_reconciled(tmp_path):
    m = _two_sites()
    single = run_batch(m, HeuristicScorer(), asof_s=ASOF, max_km=5)
    s = run_partitioned(m, tmp_path, partition_km=2, asof_s=ASOF, max_km=5)
    r = s["reconciliation"][0]
    assert r["crossing_workers"] == 1 and r["conflicting_workers"] == 1  # both partitions took x
    assert r["groups"] and r["groups"][0]["certified"]
    assert s["filled"] == 2 == single.summary["filled"]
    assert_same_run(single, tmp_path)


def test_halo_holds_every_worker_within_the_radius():
    rng = np.random.default_rng(4)
    wlat, wlon = 30 + rng.random(4000) * 2, 104 + rng.random(4000) * 2
    jlat, jlon = 30 + rng.random(300) * 2, 104 + rng.random(300) * 2
    plan = plan_partitions(wlat, wlon, jlat, jlon, partition_km=20, max_km=15)
    from gigmatch.core.geo import haversine_km

    for p in range(len(plan)):
        for j in plan.jobs[p][:5]:
            near = np.flatnonzero(haversine_km(jlat[j], jlon[j], wlat, wlon) <= 15)
            assert np.isin(near, plan.workers[p]).all()
    owned = np.concatenate(plan.owned_workers)
    assert np.array_equal(np.sort(owned), np.arange(4000))  # every worker has one owner
    assert np.array_equal(np.sort(np.concatenate(plan.jobs)), np.arange(300))


def test_validated_tables_round_trip_through_parquet(market, tmp_path):
    for table in ("workers", "jobs", "events", "employers"):
        write_validated(getattr(market, table), tmp_path / f"{table}.parquet")
        pd.testing.assert_frame_equal(
            read_validated(tmp_path / f"{table}.parquet", table),
            getattr(market, table).reset_index(drop=True),
        )


def test_dask_local_cluster_partitioned_run_equals_the_whole_market_run(market, single, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        s = run_partitioned(market, tmp_path, partition_km=10, asof_s=ASOF, client=client)
    assert s["reconciliation"][0]["groups"]  # partitions shared workers and were reconciled on the cluster
    assert_same_run(single, tmp_path)


def test_cli_partition_km_runs_partitioned(tmp_path, capsys):
    write_market(_two_sites(), tmp_path / "m")
    out = tmp_path / "out"
    argv = [
        "assign",
        "--data",
        str(tmp_path / "m"),
        "--out",
        str(out),
        "--partition-km",
        "2",
        "--max-km",
        "5",
    ]
    assert main(argv) == 0
    s = json.loads((out / "summary.json").read_text())
    assert (
        s["partition_km"] == 2 and len(s["partitions"]) == 3 and s["filled"] == 2
    )  # y lives in a third cell
    assert {"assignments.csv", "assignments.parquet", "report.html"} <= {f.name for f in out.iterdir()}
    assert "3 partitions of 2 km (optimum proven)" in capsys.readouterr().out


def test_cli_refuses_a_bad_partition_size(small_market_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["assign", "--data", str(small_market_dir), "--out", str(tmp_path), "--partition-km", "0"])
    assert exc.value.code == 2
    assert "--partition-km" in capsys.readouterr().err


def test_without_a_certificate_the_shared_partitions_are_solved_whole(tmp_path, monkeypatch):
    import matcher.partition as partition

    monkeypatch.setattr(partition, "RECONCILE_MAX_ROUNDS", 0)  # no pricing round: straight to the fallback
    m = _two_sites()
    single = run_batch(m, HeuristicScorer(), asof_s=ASOF, max_km=5)
    s = run_partitioned(m, tmp_path, partition_km=2, asof_s=ASOF, max_km=5)
    group = s["reconciliation"][0]["groups"][0]
    assert group["certified"] is False and group["solved_whole_edges"] == 3
    assert_same_run(single, tmp_path)


def test_later_candidate_rounds_redo_only_grown_jobs_and_start_from_the_last_core(market, single, tmp_path):
    """Round 2 on: a partition recomputes only the jobs whose candidate list grew, and the
    reconciliation starts from the previous round's final core; the result is still the whole run's."""
    s = run_partitioned(market, tmp_path, partition_km=5, asof_s=ASOF)
    assert s["candidate_rounds"] >= 2
    again = [e for e in s["partitions"] if e["candidate_rounds"] >= 2]
    assert again and any(e["pairs_computed"] < e["candidate_rounds"] * e["candidate_pairs"] for e in again)
    later = [g for r in s["reconciliation"][1:] for g in r["groups"]]
    assert later and all(g["warm_start_edges"] > 0 and g["certified"] for g in later)
    # partitions reconciled in round 1 skip their own optimum afterwards (only the reconciled one counts)
    assert s["reconciliation"][0]["own_optima_skipped"] == 0
    assert all(r["own_optima_skipped"] > 0 for r in s["reconciliation"][1:])
    first = s["reconciliation"][0]["groups"][0]["pricing_rounds"]
    assert min(g["pricing_rounds"] for g in later) < first
    assert_same_run(single, tmp_path)


def test_a_later_round_in_a_process_without_the_pairs_recomputes_them(market, single, tmp_path, monkeypatch):
    """Where a partition's later round runs in a process that does not hold its pairs (another Dask
    worker), the task computes them all again: same result."""
    import matcher.partition as mp

    edges_task = mp._edges_task

    def forgetful(run_dir, part, cfg, per_slot, round_no, *more):
        if round_no > 1 and part % 2:
            mp._STATE.pop((run_dir, part), None)
        return edges_task(run_dir, part, cfg, per_slot, round_no, *more)

    monkeypatch.setattr(mp, "_edges_task", forgetful)
    s = run_partitioned(market, tmp_path, partition_km=5, asof_s=ASOF)
    redone = [e for e in s["partitions"] if e["candidate_rounds"] >= 2 and e["partition"] % 2]
    assert redone and all(e["pairs_computed"] > e["candidate_pairs"] for e in redone)
    assert_same_run(single, tmp_path)


@pytest.mark.parametrize("margin", [0.0, 0.2])
def test_pricing_with_or_without_a_margin_is_certified_and_equal(
    market, single, tmp_path, monkeypatch, margin
):
    """Near-violated edges joining the core early change the rounds, never the optimum or its proof."""
    import matcher.partition as mp

    monkeypatch.setattr(mp, "PRICE_MARGIN", margin)
    s = run_partitioned(market, tmp_path, partition_km=5, asof_s=ASOF)
    groups = [g for r in s["reconciliation"] for g in r["groups"]]
    assert groups and all(g["certified"] for g in groups)
    assert all(g["driver_solve_seconds"] >= 0 and g["pricing_seconds"] >= 0 for g in groups)
    assert_same_run(single, tmp_path)
