"""POST /v1/slates and /v1/rank's exposure_aware against a real server (uvicorn in a subprocess)."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta

import pandas as pd
import pytest

from gigmatch.core.contract import load_market
from gigmatch.testing import BACKEND, OPERATOR, Server

NOW = datetime.now()
SOON = (NOW + timedelta(days=3)).replace(microsecond=0).isoformat()
JOB_IDS = [f"slate-job-{k}" for k in range(8)]


def ago(hours: float) -> str:
    # market time is China wall-clock; a few hours' slack either way is harmless for these windows
    return (
        (datetime.utcnow() + timedelta(hours=8) - timedelta(hours=hours)).replace(microsecond=0).isoformat()
    )


@pytest.fixture(scope="module")
def market(small_market_dir):
    return load_market(small_market_dir)


@pytest.fixture(scope="module")
def server(small_market_dir, market, tmp_path_factory):
    srv = Server(
        tmp_path_factory.mktemp("slates") / "store.db", data=small_market_dir, GIGMATCH_EVENTS_REFRESH_S="0.2"
    )
    workers = market.workers
    centre = workers[["lat", "lon"]].median()
    employer = str(market.jobs["employer_id"].iloc[0])
    with srv.client() as c:
        for k, job_id in enumerate(JOB_IDS):  # eight open jobs of an entry-level trade around the centre
            job = {
                "trade": "moving",
                "lat": float(centre["lat"]) + 0.004 * (k % 3),
                "lon": float(centre["lon"]) + 0.004 * (k // 3),
                "start_time": SOON,
                "headcount": 2,
                "daily_wage": 260,
                "employer_id": employer,
            }
            assert c.put(f"/v1/jobs/{job_id}", json=job).status_code == 200
    yield srv
    srv.stop()


def slates(c, **body):
    r = c.post("/v1/slates", json={"job_ids": JOB_IDS, **body})
    assert r.status_code == 200, r.text
    return r.json()


def shown_counts(answer):
    return Counter(w["worker_id"] for s in answer["slates"] for w in s["workers"])


def test_caps_hold_and_the_plan_is_proven(server):
    with server.client() as c:
        free = slates(c, slate_size=6, max_per_worker=100)
        capped = slates(c, slate_size=6, max_per_worker=1)
    for ans in (free, capped):
        assert [s["job_id"] for s in ans["slates"]] == JOB_IDS
        assert all(len(s["workers"]) <= 6 for s in ans["slates"])
        assert ans["plan"]["gap"] == 0 and ans["plan"]["method"] == "flow"
        for s in ans["slates"]:
            p = [w["p_match"] for w in s["workers"]]
            assert p == sorted(p, reverse=True) and all(0 < x <= 1 for x in p)
            assert all(w["tier"] == 1 for w in s["workers"])
    # the jobs sit close together, so relevance-only lists share their best workers; the cap spreads them
    assert max(shown_counts(free).values()) > 1
    assert max(shown_counts(capped).values()) == 1
    assert capped["exposure"]["workers_shown"] > free["exposure"]["workers_shown"]
    assert capped["plan"]["total_p"] <= free["plan"]["total_p"]
    rel = capped["exposure"]["relevance_only"]
    assert rel["max_per_worker"] > 1 and capped["exposure"]["exposure_gini"] <= rel["exposure_gini"]


def test_default_is_every_open_job(server):
    with server.client() as c:
        r = c.post("/v1/slates", json={"slate_size": 3})
    assert r.status_code == 200
    assert set(JOB_IDS) <= {s["job_id"] for s in r.json()["slates"]}


def test_held_offers_count_against_the_cap(server):
    with server.client() as c:
        before = slates(c, slate_size=4, max_per_worker=2)
        star = before["slates"][0]["workers"][0]["worker_id"]
        events = [
            {
                "ts": ago(2),
                "job_id": "j000001",
                "worker_id": star,
                "event": "shown",
                "event_id": f"held-{k}-{star}",
            }
            for k in range(2)
        ]
        events[1]["job_id"] = "j000002"
        assert c.post("/v1/events", json={"events": events}).json()["accepted"] == 2
        time.sleep(1.0)  # the refresher applies events every 0.2 s here
        after = slates(c, slate_size=4, max_per_worker=2)
        ranked = c.post("/v1/rank", json={"job_id": JOB_IDS[0], "limit": 200, "exposure_aware": True}).json()
        plain = c.post("/v1/rank", json={"job_id": JOB_IDS[0], "limit": 5}).json()
    assert star in shown_counts(before) and star not in shown_counts(after)
    row = next(w for w in ranked["candidates"] if w["worker_id"] == star)
    assert row["offers_held"] == 2 and 0 < row["p_match"] < 1
    assert all("p_match" not in w and "offers_held" not in w for w in plain["candidates"])
    p = [w["p_match"] for w in ranked["candidates"]]
    assert p == sorted(p, reverse=True)


def test_long_waiting_minimum(server):
    with server.client() as c:
        base = slates(c, slate_size=5, max_per_worker=3)
        top = [s["workers"][0]["worker_id"] for s in base["slates"][:4]]
        hires = [
            {"ts": ago(30), "job_id": "j000003", "worker_id": w, "event": "hired", "event_id": f"lw-hire-{w}"}
            for w in top
        ]
        c.post("/v1/events", json={"events": hires})
        time.sleep(1.0)
        fair = slates(c, slate_size=5, max_per_worker=3, long_waiting_share=1.0, long_waiting_days=14)
    plan = fair["plan"]
    assert plan["long_waiting_places"] >= plan["long_waiting_required"] > 0 and plan["gap"] == 0
    shown = shown_counts(fair)
    assert not set(top) & set(shown)  # the recently hired make way for long-waiting workers
    assert all(w["long_waiting"] for s in fair["slates"] for w in s["workers"])
    assert fair["exposure"]["long_waiting_share_of_shows"] == 1.0


def test_head_start_puts_the_employers_own_good_workers_first(server, market):
    employer = str(market.jobs["employer_id"].iloc[0])
    past_job = str(market.jobs.loc[market.jobs["employer_id"] == employer, "job_id"].iloc[0])
    with server.client() as c:
        base = slates(c, slate_size=3, max_per_worker=100)
        shown = set(shown_counts(base))
        cands = c.post("/v1/rank", json={"job_id": JOB_IDS[5], "limit": 100}).json()["candidates"]
        own = next(w["worker_id"] for w in cands[::-1] if w["worker_id"] not in shown)  # a weak candidate
        events = [
            {
                "ts": ago(200),
                "job_id": past_job,
                "worker_id": own,
                "event": "completed",
                "event_id": f"own-c-{own}",
            },
            {
                "ts": ago(199),
                "job_id": past_job,
                "worker_id": own,
                "event": "rated",
                "rating": 5,
                "event_id": f"own-r-{own}",
            },
        ]
        assert c.post("/v1/events", json={"events": events}).status_code == 200
        time.sleep(1.0)
        tiered = slates(c, slate_size=15, max_per_worker=100, head_start_hours=6)
    slate = next(s for s in tiered["slates"] if s["job_id"] == JOB_IDS[5])
    tiers = [w["tier"] for w in slate["workers"]]
    assert tiers == sorted(tiers)  # tier 1 (released now) first
    own_place = next(w for w in slate["workers"] if w["worker_id"] == own)  # a weak worker, yet shown
    assert own_place["tier"] == 1
    release = {w["tier"]: pd.Timestamp(w["release_at"]) for s in tiered["slates"] for w in s["workers"]}
    assert release[2] - release[1] == pd.Timedelta(hours=6)
    assert tiered["plan"]["tier1_places"] >= 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"slate_size": 0}, "slate_size"),
        ({"max_per_worker": -1}, "max_per_worker"),
        ({"long_waiting_share": 1.5}, "long_waiting_share"),
        ({"head_start_hours": "soon"}, "head_start_hours"),
        ({"max_km": 0}, "max_km"),
        ({"job_ids": []}, "job_ids"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_bodies_name_the_field(server, body, field):
    with server.client() as c:
        r = c.post("/v1/slates", json=body)
    assert r.status_code == 422 and field in r.json()["detail"]


def test_access_and_unknown_jobs(server):
    with server.client(None) as anon:
        assert anon.post("/v1/slates", json={}).status_code == 401
    with server.client(OPERATOR) as c:
        r = c.post("/v1/slates", json={"job_ids": ["no-such-job", "nor-this"]})
        assert r.status_code == 404 and "no-such-job" in r.json()["detail"]
    with server.client(BACKEND) as c:
        closed = c.post("/v1/slates", json={"job_ids": ["j000001"]}).json()  # started long ago
        assert closed["slates"][0]["workers"] == [] and "not open" in closed["slates"][0]["message"]


def test_a_model_without_calibration_is_refused_with_409():
    from fastapi import HTTPException

    from models.heuristic import HeuristicScorer
    from service.slates import require_calibration

    class OldModel:  # an artifact trained before calibration: no calibration in its metadata
        version, is_model, metadata = "old-model", True, {"version": "old-model"}

    require_calibration(HeuristicScorer())  # the heuristic ships one
    with pytest.raises(HTTPException) as exc:
        require_calibration(OldModel())
    assert exc.value.status_code == 409 and "old-model" in exc.value.detail
