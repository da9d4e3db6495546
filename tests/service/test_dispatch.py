"""Real-time dispatch in the service (issue #15) against a real server: windows of put jobs offered to
free workers, no overlapping offers, lapsed offers going to the next best worker, no job slot offered
twice across a crash, and the offers feed."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from gigmatch.testing import Server
from tests import helpers
from tests.helpers import read_pages

DAY = (datetime.now() + timedelta(days=2)).replace(hour=8, minute=0, second=0, microsecond=0)
ENV = {"GIGMATCH_DISPATCH_WINDOW_S": "0.5", "GIGMATCH_ANSWER_TICK_S": "0.5"}
LAT, LON = 26.70, 117.40


@pytest.fixture()
def market(tmp_path):
    folder = tmp_path / "market"
    folder.mkdir()
    # w000-w019 live at the jobs' site, but w000-w009 work evenings only and w010-w019 at most 4 hours
    # a day: never offered the 8-hour day jobs below
    rows = [
        "worker_id,lat,lon,skills,certificates,max_travel_km,min_daily_wage,available_hours,max_hours_per_day"
    ]
    for i in range(200):
        lat, lon = (
            (LAT + 0.001, LON + 0.001) if i < 20 else (LAT + 0.0005 * (i % 20), LON + 0.0005 * (i // 20))
        )
        hours, cap = ("mon-sun 18:00-23:00" if i < 10 else ""), ("4" if 10 <= i < 20 else "")
        rows.append(f"w{i:03d},{lat},{lon},packaging,,20,,{hours},{cap}")
    (folder / "workers.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    start = DAY.isoformat()
    (folder / "jobs.csv").write_text(
        f"job_id,trade,lat,lon,headcount,start_time,daily_wage\nj_old,packaging,{LAT},{LON},5,{start},160\n",
        encoding="utf-8",
    )
    return folder


def job(hour: int, headcount: int, hours: int = 8) -> dict:
    start = DAY + timedelta(hours=hour - 8)
    return {
        "trade": "packaging",
        "lat": LAT + 0.001,
        "lon": LON + 0.001,
        "headcount": headcount,
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(hours=hours)).isoformat(),
        "daily_wage": 200,
    }


def offers(client, after=0, limit=1000) -> list[dict]:
    """Every offer after ``after``, page by page."""
    return read_pages(client, "/v1/offers", "offers", after, limit)


def wait_for(predicate, timeout=30.0, step=0.2):
    """``predicate()``'s first truthy value (:func:`tests.helpers.wait_for`)."""
    return helpers.wait_for(predicate, timeout, step)


def overlap(a: dict, b: dict) -> bool:
    return a["start_time"] < b["end_time"] and b["start_time"] < a["end_time"]


def test_put_jobs_are_offered_to_free_workers_once_across_a_crash(market, tmp_path):
    db = tmp_path / "dispatch.db"
    srv = Server(db, data=market, **ENV)
    # three jobs at the same time of day (overlapping), one the next day
    jobs = {"j_a": job(8, 4), "j_b": job(10, 3), "j_c": job(9, 5), "j_d": job(8 + 24, 2)}
    try:
        with srv.client() as c:
            for jid in ("j_a", "j_b"):  # at once: the baseline is what was stored at the start
                assert c.put(f"/v1/jobs/{jid}", json=jobs[jid]).status_code == 200
            first = wait_for(lambda: (o := offers(c)) and len(o) >= 7 and o)
            pages, after = [], 0
            for _ in range(2):  # a reader part-way through, with small pages
                page = c.get("/v1/offers", params={"after": after, "limit": 3}).json()
                pages += page["offers"]
                after = page["next_cursor"]
            answers = c.get("/v1/answers", params={"limit": 1000}).json()["answers"]
            published = {
                a["content"]["offer_id"] for a in answers if a["content"]["code"] == "dispatch_offer"
            }
            assert {o["offer_id"] for o in first} <= published
        srv.kill()  # a crash, not a shutdown
        srv = Server(db, **ENV)
        with srv.client() as c:
            for jid in ("j_c", "j_d"):
                assert c.put(f"/v1/jobs/{jid}", json=jobs[jid]).status_code == 200
            wait_for(lambda: Counter(o["job_id"] for o in offers(c)).get("j_d") == 2)
            time.sleep(1.5)  # a few more windows: nothing more may be offered
            whole = offers(c)
            assert [o["offer_id"] for o in pages + offers(c, after=after, limit=2)] == [
                o["offer_id"] for o in whole
            ]
            assert [o["cursor"] for o in whole] == sorted(o["cursor"] for o in whole)
            assert len({o["offer_id"] for o in whole}) == len(whole)
            # every slot of every put job offered exactly once (200 qualified workers, few slots); never
            # the baseline job
            assert not {o["worker_id"] for o in whole} & {f"w{i:03d}" for i in range(20)}  # hours, caps
            per_job = Counter(o["job_id"] for o in whole)
            assert per_job == {jid: body["headcount"] for jid, body in jobs.items()}
            workers = {}
            for o in whole:
                workers.setdefault(o["worker_id"], []).append(jobs[o["job_id"]])
                assert o["worker_id"].startswith("w") and o["score"] > 0 and o["distance_km"] < 20
            # no worker offered two overlapping jobs (j_d, the next day, may go to anyone)
            for held in workers.values():
                for i, a in enumerate(held):
                    for b in held[i + 1 :]:
                        assert not overlap(a, b)
            # a decline frees the slot at once: the next window offers it to another worker
            first_d = next(o for o in whole if o["job_id"] == "j_d")
            now = datetime.now(UTC).replace(microsecond=0).isoformat()
            ev = {"ts": now, "job_id": "j_d", "worker_id": first_d["worker_id"], "event": "declined"}
            assert c.post("/v1/events", json={"events": [ev]}).status_code == 200
            again = wait_for(lambda: [o for o in offers(c) if o["job_id"] == "j_d"][2:])
            assert len(again) == 1
            assert again[0]["worker_id"] not in {o["worker_id"] for o in whole if o["job_id"] == "j_d"}
            metrics = {
                line.split()[0]: float(line.split()[-1])
                for line in c.get("/metrics").text.splitlines()
                if line.startswith("gigmatch_dispatch")
            }
            assert metrics["gigmatch_dispatch_offers_total"] >= 8  # since the restart: j_c, j_d, the re-offer
            assert metrics["gigmatch_dispatch_last_gap"] == 0
            for q in ({"after": -1}, {"limit": 0}, {"after": "x"}):
                r = c.get("/v1/offers", params=q)
                assert r.status_code == 422 and next(iter(q)) in r.json()["detail"]
    finally:
        srv.stop()


def test_a_lapsed_offer_goes_to_the_next_worker_until_a_hire_fills_the_slot(market, tmp_path):
    srv = Server(tmp_path / "ttl.db", data=market, GIGMATCH_DISPATCH_OFFER_TTL_S="1", **ENV)
    try:
        with srv.client() as c:
            time.sleep(1.0)
            assert c.put("/v1/jobs/j_x", json=job(8, 1)).status_code == 200
            lapsed = wait_for(lambda: (o := offers(c)) and len(o) >= 3 and o)
            assert len({o["worker_id"] for o in lapsed}) == len(lapsed)  # never the same worker twice
            for a, b in zip(lapsed, lapsed[1:], strict=False):  # one live offer at a time for one slot
                assert datetime.fromisoformat(b["window_start"]) + timedelta(
                    seconds=0.5
                ) >= datetime.fromisoformat(a["expires_at"]) - timedelta(seconds=0.01)
            # the worker of the latest offer is hired: no more offers for the job
            last = offers(c)[-1]
            now = datetime.now(UTC).replace(microsecond=0).isoformat()
            ev = {
                "ts": now,
                "job_id": "j_x",
                "worker_id": last["worker_id"],
                "event": "hired",
                "event_id": "h1",
            }
            assert c.post("/v1/events", json={"events": [ev]}).status_code == 200
            time.sleep(3.0)  # the hire reaches the snapshot (events refresh 2 s)
            n = len(offers(c))
            time.sleep(2.5)
            assert len(offers(c)) == n
    finally:
        srv.stop()


def test_two_replicas_over_postgres_dispatch_each_slot_once(market, postgres, tmp_path):
    """Two replicas over one PostgreSQL database: the lease ``dispatch`` makes one of them dispatch; jobs
    put through either are offered, each slot once, and both serve the same offers."""
    from tests.service.test_replicas import start_together

    database = postgres.create_database("dispatch_pair")
    a, b = start_together(2, tmp_path, data=market, store=database, **ENV)
    jobs = {"j_p": job(8, 3), "j_q": job(12, 2), "j_r": job(8 + 24, 2)}
    try:
        with a.client() as ca, b.client() as cb:
            time.sleep(1.5)  # the baseline is taken
            assert ca.put("/v1/jobs/j_p", json=jobs["j_p"]).status_code == 200
            assert cb.put("/v1/jobs/j_q", json=jobs["j_q"]).status_code == 200
            assert ca.put("/v1/jobs/j_r", json=jobs["j_r"]).status_code == 200
            wait_for(lambda: len(offers(cb)) >= 7, timeout=60)
            time.sleep(2.0)  # more windows on both replicas: nothing more may be offered
            whole = offers(ca)
            assert [o["offer_id"] for o in offers(cb)] == [o["offer_id"] for o in whole]
            assert Counter(o["job_id"] for o in whole) == {
                jid: body["headcount"] for jid, body in jobs.items()
            }
            by_worker = Counter(o["worker_id"] for o in whole if o["job_id"] in ("j_p", "j_q"))
            assert max(by_worker.values()) == 1  # j_p and j_q overlap (08-16, 12-20)
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"GIGMATCH_DISPATCH_WINDOW_S": "-1"}, "GIGMATCH_DISPATCH_WINDOW_S"),
        ({"GIGMATCH_DISPATCH_OFFER_TTL_S": "0"}, "GIGMATCH_DISPATCH_OFFER_TTL_S"),
    ],
)
def test_bad_dispatch_settings_stop_the_start_naming_the_variable(tmp_path, env, name):
    import os
    import subprocess
    import sys

    from gigmatch.testing import BACKEND

    run = subprocess.run(
        [sys.executable, "-m", "gigmatch.cli", "serve", "--db", str(tmp_path / "x.db")],
        env={**os.environ, "GIGMATCH_API_KEYS": f"{BACKEND}:backend", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].startswith(f"gigmatch serve: error: {name}: "), run.stderr
