import json

import numpy as np
import pandas as pd
import pytest

from gigmatch.cli import main
from gigmatch.core.contract import write_market
from matcher.batch import run_batch
from models.heuristic import HeuristicScorer
from tests.helpers import make_market

LAT, LON = 26.70, 117.40
KM = 1 / 111.19508  # degrees of latitude per km


@pytest.fixture
def constructed():
    """Three jobs and five workers, each built to hit one documented reason."""
    workers = [
        {
            "worker_id": "welder_ok",
            "lat": LAT,
            "lon": LON,
            "skills": "welding:5",
            "certificates": "welding_cert@2030-01-01",
        },
        # near the welding job only (the moving jobs are beyond its 1.5 km limit): a licence would help
        {
            "worker_id": "welder_unlicensed",
            "lat": LAT + 1 * KM,
            "lon": LON,
            "skills": "welding:9",
            "max_travel_km": 1.5,
        },
        {
            "worker_id": "far_away",
            "lat": LAT + 40.5 * KM,
            "lon": LON,
            "skills": "moving",
            "max_travel_km": 10,
        },
        {"worker_id": "mover", "lat": LAT + 2 * KM, "lon": LON, "skills": "moving"},
        {"worker_id": "short_trip", "lat": LAT + 8 * KM, "lon": LON, "skills": "moving", "max_travel_km": 3},
    ]
    jobs = [
        {
            "job_id": "weld",
            "trade": "welding",
            "lat": LAT,
            "lon": LON,
            "headcount": 2,
            "start_time": "2026-10-10T08:00:00",
        },
        {
            "job_id": "move",
            "trade": "moving",
            "lat": LAT - 3 * KM,
            "lon": LON,
            "headcount": 1,
            "employer_id": "good",
        },
        {
            "job_id": "arrears",
            "trade": "moving",
            "lat": LAT - 3 * KM,
            "lon": LON,
            "headcount": 1,
            "employer_id": "bad",
        },
    ]
    employers = [
        {"employer_id": "good", "blacklisted": "false"},
        {"employer_id": "bad", "blacklisted": "true"},
    ]
    return make_market(workers, jobs, employers)


def test_reasons_for_constructed_cases(constructed):
    res = run_batch(constructed, HeuristicScorer(), max_km=15)
    got = dict(
        zip(
            res.assignments["job_id"] + ":" + res.assignments["worker_id"],
            res.assignments["score"],
            strict=True,
        )
    )
    assert set(got) == {"weld:welder_ok", "move:mover"}
    unfilled = res.unfilled_jobs.set_index("job_id")
    assert unfilled.loc["arrears", "reason"] == "employer_blacklisted"
    assert unfilled.loc["weld", "open_slots"] == 1
    assert unfilled.loc["weld", "reason"] == "too_few_eligible_workers"
    unmatched = res.unmatched_workers.set_index("worker_id")
    assert set(unmatched.index) == {"welder_unlicensed", "far_away", "short_trip"}  # every worker answered
    assert unmatched.loc["welder_unlicensed", "reason"] == "jobs_need_certificate"
    assert unmatched.loc["welder_unlicensed", "what_would_change"].startswith(
        "a welding_cert certificate would qualify you for 1 job, nearest"  # not "1 job(s)" (issue #20)
    )
    assert unmatched.loc["far_away", "reason"] == "no_job_within_radius"
    assert unmatched.loc["far_away", "what_would_change"] == "a travel radius of 44 km would reach job move"
    assert unmatched.loc["short_trip", "reason"] == "jobs_beyond_travel_limit"
    s = res.summary
    assert (s["slots"], s["filled"], s["model_version"]) == (4, 2, "heuristic-v1")


def test_certificate_nobody_nearby_holds():
    workers = [{"worker_id": "w", "lat": LAT, "lon": LON, "skills": "electrical"}]
    jobs = [{"job_id": "e", "trade": "electrical", "lat": LAT, "lon": LON}]
    res = run_batch(make_market(workers, jobs), HeuristicScorer())
    assert res.unfilled_jobs.loc[0, "reason"] == "certificate_nobody_nearby_holds"


def test_taken_by_better_matches_and_min_score():
    workers = [
        {"worker_id": "w", "lat": LAT, "lon": LON, "skills": "moving:10", "preferred_trades": "moving"}
    ]
    jobs = [
        {"job_id": "a", "trade": "moving", "lat": LAT, "lon": LON},
        {"job_id": "b", "trade": "moving", "lat": LAT + 5 * KM, "lon": LON},
    ]
    res = run_batch(make_market(workers, jobs), HeuristicScorer(), objective="weight")
    assert res.assignments["job_id"].tolist() == ["a"]
    assert (
        res.unfilled_jobs.set_index("job_id").loc["b", "reason"] == "eligible_workers_taken_by_better_matches"
    )
    res = run_batch(make_market(workers, jobs), HeuristicScorer(), min_score=0.99)
    assert len(res.assignments) == 0
    assert set(res.unfilled_jobs["reason"]) == {"below_min_score"}
    assert res.unmatched_workers.loc[0, "reason"] == "below_min_score"


def test_dask_local_cluster_gives_the_identical_result(small_market_dir):
    distributed = pytest.importorskip("dask.distributed")
    from gigmatch.core.contract import load_market

    market = load_market(small_market_dir)
    single = run_batch(market, HeuristicScorer(), asof_s=1.79e9)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        spread = run_batch(market, HeuristicScorer(), asof_s=1.79e9, client=client)
    pd.testing.assert_frame_equal(single.assignments, spread.assignments)
    pd.testing.assert_frame_equal(single.unfilled_jobs, spread.unfilled_jobs)


def test_cli_writes_every_output(constructed, tmp_path, capsys):
    write_market(constructed, tmp_path / "m")
    code = main(["assign", "--data", str(tmp_path / "m"), "--out", str(tmp_path / "out"), "--max-km", "15"])
    assert code == 0
    for name in (
        "assignments.csv",
        "unfilled_jobs.csv",
        "unmatched_workers.csv",
        "summary.json",
        "report.html",
    ):
        assert (tmp_path / "out" / name).stat().st_size > 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["filled"] == 2
    a = pd.read_csv(tmp_path / "out" / "assignments.csv")
    assert list(a.columns) == ["job_id", "worker_id", "score", "distance_km"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3
    assert "unfilled jobs by reason" in html  # says what it counts (issue #20)
    # readable Chinese labels beside the codes, never a raw Python dict (issue #13)
    assert "招满率" in html and "未招满原因" in html and "{'" not in html
    assert "filled 2/4 slots" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max-km", "-3"], "-3 must be a positive finite number"),
        (["--max-km", "nan"], "nan must be a positive finite number"),
        (["--worker-capacity", "x"], "'x' is not a whole number"),
        (["--objective", "cheap"], "invalid choice"),
    ],
)
def test_cli_refuses_bad_flags(tmp_path, argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["assign", "--data", str(tmp_path), "--out", str(tmp_path / "o"), *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_bad_market_is_one_line(tmp_path, capsys):
    (tmp_path / "workers.csv").write_text("worker_id,lat,lon,skills\nw1,95,117,x\n")
    (tmp_path / "jobs.csv").write_text("job_id,trade,lat,lon\nj1,x,26,117\n")
    assert main(["assign", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["gigmatch assign: error: workers.csv: row 1, column 'lat': 95 is outside [-90, 90]"]
    assert not np.any([(tmp_path / "o").exists()])


def test_open_jobs_get_more_candidates_and_the_batch_is_solved_again():
    # With one candidate per slot both jobs see only worker x (nearest to each); the job that loses
    # x must be offered y in a second round instead of being reported unfilled.
    workers = [
        {"worker_id": "x", "lat": LAT + 0.2 * KM, "lon": LON, "skills": "moving"},
        {"worker_id": "y", "lat": LAT + 1.0 * KM, "lon": LON, "skills": "moving"},
    ]
    jobs = [
        {"job_id": "a", "trade": "moving", "lat": LAT, "lon": LON},
        {"job_id": "b", "trade": "moving", "lat": LAT + 0.5 * KM, "lon": LON},
    ]
    res = run_batch(make_market(workers, jobs), HeuristicScorer(), candidates_per_slot=1)
    got = dict(zip(res.assignments["job_id"], res.assignments["worker_id"], strict=True))
    assert got == {"a": "x", "b": "y"}
    assert res.summary["candidate_rounds"] == 2 and len(res.unfilled_jobs) == 0


def test_an_encoded_market_gives_the_same_batch_and_a_job_subset_the_same_features(small_market_dir):
    """The service runs the batch on its snapshot's encoded tables (``jobs.take(rows)``) instead of
    re-encoding the market: an encoded market gives the batch the frames give, and a subset of jobs
    keeps every job's features (market statistics stay the whole market's)."""
    from features.encode import encode_market
    from features.history import WorkerHistory
    from features.pairs import build_pairs
    from gigmatch.core.contract import load_market
    from matcher.batch import EncodedMarket

    market = load_market(small_market_dir)
    W, J = encode_market(market)
    H = WorkerHistory(market.events, W.ids)
    asof = float(np.nanmax(J.posted_s))
    a = run_batch(market, HeuristicScorer(), asof_s=asof)
    b = run_batch(EncodedMarket(W, J, H, market.taxonomy), HeuristicScorer(), asof_s=asof)
    pd.testing.assert_frame_equal(a.assignments, b.assignments)
    pd.testing.assert_frame_equal(a.unfilled_jobs, b.unfilled_jobs)
    rows = np.arange(1, len(J), 3)
    sub = J.take(rows)
    assert list(sub.ids) == list(J.ids[rows]) and len(sub) == len(rows)
    workers = np.arange(0, len(W), 7)
    pj, pw = np.repeat(np.arange(len(rows)), len(workers)), np.tile(workers, len(rows))
    whole = build_pairs(J, W, rows[pj], pw, history=H, asof_s=asof)
    part = build_pairs(sub, W, pj, pw, history=H, asof_s=asof)
    np.testing.assert_array_equal(whole.X, part.X)
    np.testing.assert_array_equal(whole.flags, part.flags)
    np.testing.assert_array_equal(
        J.req_code[whole.missing_cert[whole.missing_cert >= 0]],
        sub.req_code[part.missing_cert[part.missing_cert >= 0]],
    )


def test_sentences_agree_in_number_and_article():
    # issue #20: "a electrician_cert certificate", "1 job(s)", "none of the 1 workers ... 1 lack"
    workers = [{"worker_id": "sparky", "lat": LAT, "lon": LON, "skills": "electrical:3"}]
    jobs = [{"job_id": "wire", "trade": "electrical", "lat": LAT + 2 * KM, "lon": LON, "headcount": 1}]
    res = run_batch(make_market(workers, jobs), HeuristicScorer(), max_km=15)
    detail = res.unfilled_jobs.set_index("job_id").loc["wire", "detail"]
    assert detail.startswith("the only worker nearby is not eligible: 1 lacks certificate electrician_cert (")
    change = res.unmatched_workers.set_index("worker_id").loc["sparky", "what_would_change"]
    assert change == "an electrician_cert certificate would qualify you for 1 job, nearest 2.0 km"
