"""The answer loop's parts in process, with hand-made markets whose right answers are known:
what would fill a job (wage, radius, the job's own certificate), case rules, follow-ups, figures,
the loop page and ``gigmatch loop-report``."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from gigmatch.cli import main
from gigmatch.core.times import market_now
from models.heuristic import HeuristicScorer
from service.loop.answers import AnswerContext, job_answers, worker_answers
from service.loop.cases import CaseBook
from service.loop.feed import publish_answer, read_answers
from service.loop.report import loop_page
from service.loop.runner import AnswerLoop
from service.loop.stats import DAY_S, followups, loop_stats
from service.store import Store
from tests.helpers import expire_leases, make_market

SOON = (datetime.now() + timedelta(days=3)).replace(microsecond=0).isoformat()
KM_LON = 1 / 99.4  # degrees of longitude per km at 26.7 N (approximately)
A, D, E = 117.0, 118.0, 119.0  # three sites ~100 km apart


def _worker(wid, lon, **kw):
    return {"worker_id": wid, "lat": "26.7", "lon": str(lon), "skills": "packaging", **kw}


@pytest.fixture(params=["sqlite", "postgres"])
def store(tmp_path, request):
    """The hand-made market in a store on each backend (the loop's streams, records and leases are
    the repository's generic ones, so they must behave the same on PostgreSQL, issue #16)."""
    workers = [
        # near A: three packers asking more than job jw pays
        _worker("wa1", A, min_daily_wage="150"),
        _worker("wa2", A, min_daily_wage="180"),
        _worker("wa3", A, min_daily_wage="200"),
        # 20 and 25 km from D, willing to travel 40 km: beyond jr's 15 km radius only
        _worker("wd1", D + 20 * KM_LON, max_travel_km="40"),
        _worker("wd2", D + 25 * KM_LON, max_travel_km="40"),
        # near E, without the health certificate job jc asks for itself
        _worker("we1", E),
        _worker("we2", E),
        _worker("we3", E, certificates="forklift_cert"),
    ]
    jobs = [
        {
            "job_id": "jw",
            "trade": "packaging",
            "lat": "26.7",
            "lon": str(A),
            "headcount": "2",
            "daily_wage": "100",
            "start_time": SOON,
        },
        {
            "job_id": "jr",
            "trade": "packaging",
            "lat": "26.7",
            "lon": str(D),
            "headcount": "2",
            "daily_wage": "300",
            "start_time": SOON,
        },
        {
            "job_id": "jc",
            "trade": "packaging",
            "lat": "26.7",
            "lon": str(E),
            "headcount": "1",
            "daily_wage": "300",
            "start_time": SOON,
            "required_certificates": "health_cert",
        },
    ]
    if request.param == "postgres":
        from service.store.postgres import PostgresRepository

        server = request.getfixturevalue("postgres")
        name = "loop_" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:16]
        s = Store(PostgresRepository(server.create_database(name)))
    else:
        s = Store(tmp_path / "units.db")
    s.seed(make_market(workers, jobs))
    yield s
    s.close()


def test_job_answers_say_what_would_fill_the_job(store):
    snap = store.snapshot()
    ctx = AnswerContext(snap)
    rows = np.array([snap.job_row[j] for j in ("jw", "jr", "jc")])
    out = job_answers(ctx, HeuristicScorer(), rows, market_now(), max_km=15.0)
    by = dict(zip(out.ids, out.contents, strict=True))
    jw = by["jw"]
    assert jw["code"] == "wage_below_workers_minimum" and jw["eligible_workers"] == 3
    wage = next(c for c in jw["what_would_change"] if c["code"] == "raise_wage")
    assert wage["daily_wage"] == 180 and wage["workers"] == 2  # the 2nd-lowest minimum fills 2 slots
    # the calibrated P(completed) of those who would take it: none at 100 yuan, two at 180 yuan
    assert jw["expected_completions"] == 0
    assert 0 < wage["expected_completions"] <= 2 and "模型预计" in wage["text"]
    assert {w["worker_id"] for w in jw["workers"]} == {"wa1", "wa2", "wa3"}
    assert not any(w["takes_wage"] for w in jw["workers"])
    jr = by["jr"]
    assert jr["code"] == "no_worker_within_radius" and jr["workers"] == []
    radius = next(c for c in jr["what_would_change"] if c["code"] == "widen_radius")
    assert radius["radius_km"] in (25, 26) and radius["workers"] == 2
    jc = by["jc"]
    assert jc["code"] == "certificate_nobody_nearby_holds"
    drop = next(c for c in jc["what_would_change"] if c["code"] == "drop_certificate")
    assert drop["certificates"] == ["health_cert"] and drop["workers"] == 3
    assert "health_cert" in jc["message"] and jc["message"].startswith("岗位还缺1人")
    # a worker whose case is closed is never listed
    blocked = snap.workers.ids == "wa1"
    out = job_answers(ctx, HeuristicScorer(), rows[:1], market_now(), max_km=15.0, blocked=blocked)
    assert "wa1" not in {w["worker_id"] for w in out.contents[0]["workers"]}
    assert out.seen[0] and "wa1" not in out.seen[0]


def test_worker_answers_list_jobs_or_why_not(store):
    snap = store.snapshot()
    ctx = AnswerContext(snap)
    rows = np.array([snap.worker_row[w] for w in ("wa1", "wd1")])
    out = worker_answers(ctx, HeuristicScorer(), rows, market_now())
    wa1, wd1 = out.contents
    assert wa1["code"] == "jobs_found" and [j["job_id"] for j in wa1["jobs"]] == ["jw"]
    assert wd1["code"] == "jobs_found" and [j["job_id"] for j in wd1["jobs"]] == ["jr"]
    assert out.seen == [["jw"], ["jr"]]


def test_cases_open_close_reopen_and_old_hires(store):
    book = CaseBook(store.repo)
    snap = store.snapshot()
    book.reconcile(snap.workers.ids, snap.jobs.ids, np.array(["open"] * len(snap.jobs), dtype=object), 100.0)
    assert len(book.open_ids("worker")) == 8 and len(book.open_ids("job")) == 3
    assert book.close("worker", "wa1", "not_looking", 200.0, "回访") is not None
    assert book.close("worker", "wa1", "other", 201.0) is None  # already closed
    assert book.blocked_rows(snap.workers.ids).tolist() == [w == "wa1" for w in snap.workers.ids]
    assert book.on_put("worker", "wa1", 300.0) == "reopened"
    assert not book.blocked_rows(snap.workers.ids).any()
    # a hire logged before the earlier closing (sent again) does not close the new case; a later one does
    old = pd.DataFrame({"worker_id": ["wa1"], "event": ["hired"], "ts": pd.to_datetime([150.0], unit="s")})
    assert book.on_events(old, 310.0) == 0
    new = pd.DataFrame({"worker_id": ["wa1"], "event": ["hired"], "ts": pd.to_datetime([305.0], unit="s")})
    assert book.on_events(new, 310.0) == 1
    assert book.get("worker", "wa1")["outcome"] == "hired"
    assert not book.blocked_rows(snap.workers.ids).any()  # hired workers are still ranked
    assert [h["action"] for h in book.history("worker", "wa1")] == ["opened", "closed", "reopened", "closed"]
    # a job no longer open is closed with its state; persisted: a new book reads the same cases
    book.reconcile(
        snap.workers.ids, snap.jobs.ids, np.array(["filled", "open", "started"], dtype=object), 400.0
    )
    again = CaseBook(store.repo)
    assert again.get("job", "jw")["outcome"] == "filled" and again.get("job", "jc")["outcome"] == "started"
    assert again.get("worker", "wa1") == book.get("worker", "wa1")


def test_followups_and_figures_with_as_of():
    day = DAY_S
    cases = {
        f"worker:{w}": {"kind": "worker", "id": w, "status": "open", "opened_at": 0.0, "changed_at": 0.0}
        for w in ("a", "b", "c", "d")
    }
    cases["worker:c"].update(status="closed", outcome="hired", closed_at=3 * day)
    cases["worker:e"] = {
        "kind": "worker",
        "id": "e",
        "status": "open",
        "opened_at": 9 * day,
        "changed_at": 9 * day,
    }
    answered = {
        "worker:a": {
            "opened_at": 0.0,
            "first_at": 10.0,
            "last_at": 10.0,
            "answers": 1,
            "code": "jobs_found",
            "basis": 0.0,
        },
        "worker:b": {
            "opened_at": 0.0,
            "first_at": 20.0,
            "last_at": 5 * day,
            "answers": 2,
            "code": "jobs_found",
            "basis": 0.0,
        },
        "worker:c": {
            "opened_at": 0.0,
            "first_at": 30.0,
            "last_at": 30.0,
            "answers": 1,
            "code": "jobs_found",
            "basis": 0.0,
        },
        # d: never answered (opened at 0): missed the SLA
    }
    ts = pd.to_datetime([2 * day, 3 * day, 4 * day], unit="s")
    events = pd.DataFrame({"ts": ts, "worker_id": ["a", "a", "d"], "event": ["shown", "declined", "applied"]})
    due = followups(cases, answered, events, 8 * day, 7)
    # a: answered 8 days ago, only shown/declined since; b: answered 3 days ago; c: hired;
    # d: applied since it opened; e: opened after as_of... no, one day before as_of's next check
    assert [f["worker_id"] for f in due] == ["a"]
    assert due[0]["events_since"] == {"shown": 1, "declined": 1} and due[0]["days_waiting"] == pytest.approx(
        8, abs=0.01
    )
    assert [f["worker_id"] for f in followups(cases, answered, events, 13 * day, 7)] == ["a", "b"]
    stats = loop_stats(cases, answered, events, 10 * day, 60.0, 7)
    assert stats["open_cases"] == {"worker": 4, "job": 0}
    assert stats["closed_by_outcome"]["worker"] == {"hired": 1}
    # a, b, c answered within 60 s; d (10 days) and e (1 day) still unanswered: both missed the 60 s
    assert stats["answered_within_sla"] == pytest.approx(3 / 5)
    assert loop_stats(cases, answered, events, 9 * day + 30, 60.0, 7)["answered_within_sla"] == pytest.approx(
        3 / 4
    )
    assert stats["median_first_answer_s"] == 20.0 and stats["unanswered_open"]["worker"] == 2
    page = loop_page(stats)
    assert "事事有回音" in page and "已录用" in page and page.count("data:image/png;base64,") == 2


def test_loop_tick_and_loop_report_cli(store, tmp_path, capsys):
    book = CaseBook(store.repo)
    loop = AnswerLoop(store, book, HeuristicScorer, tick_s=0.1, sweep_s=0.0, max_km=15.0)
    assert loop.tick() == 8 + 3  # every open case answered once
    assert loop.tick() == 0  # nothing changed: no new answer
    store.upsert_job(
        {
            "job_id": "jn",
            "trade": "packaging",
            "lat": "26.7",
            "lon": str(A),
            "headcount": "1",
            "daily_wage": "300",
            "start_time": SOON,
        }
    )
    book.on_put("job", "jn", market_now())
    loop.tick()  # the new job's own first answer; the workers near it are due next
    loop.tick()
    answers = read_answers(store.repo, 0, 1000)
    near_a = [a for a in answers if a.get("worker_id") == "wa2"]
    assert len(near_a) == 2 and [j["job_id"] for j in near_a[-1]["content"]["jobs"]][0] == "jn"
    assert not any(a.get("worker_id") == "we1" for a in answers[11:])  # 200 km away: not concerned
    row = publish_answer(store.repo, "worker", "wa3", {"code": "other", "message": "测试"})
    assert read_answers(store.repo, row["cursor"] - 1, 10)[0]["answer_id"] == row["answer_id"]
    with pytest.raises(ValueError, match="answer kind"):
        publish_answer(store.repo, "employer", "x", {})
    db = store.repo.url
    code = main(["loop-report", "--db", db, "--out", str(tmp_path / "rep"), "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["open_cases"] == {"worker": 8, "job": 4} and printed["answered_within_sla"] == 1.0
    assert (tmp_path / "rep" / "loop.html").read_text().count("<img") == 2
    assert main(["loop-report", "--db", str(tmp_path / "missing.db")]) == 2
    assert "no such store file" in capsys.readouterr().err


def test_two_replicas_share_the_loop_through_the_lease(store):
    """Two loops over one repository: whichever holds the lease answers; the other does nothing, and
    takes over only when the holder's lease lapses."""
    one = AnswerLoop(store, CaseBook(store.repo), HeuristicScorer, tick_s=0.1, max_km=15.0)
    two = AnswerLoop(store, CaseBook(store.repo), HeuristicScorer, tick_s=0.1, max_km=15.0)
    assert one.tick() == 11 and two.tick() == 0
    assert len(read_answers(store.repo, 0, 1000)) == 11  # each case answered once, not twice
    # the second replica sees the first one's cases through the history stream
    assert len(two.cases.open_ids("worker")) == 8
    expire_leases(store.repo)  # the holder died: its lease lapses
    store.upsert_worker({"worker_id": "wz", "lat": "26.7", "lon": str(A), "skills": "packaging"})
    two.cases.on_put("worker", "wz", market_now())
    assert two.tick() >= 1 and one.tick() == 0
    assert [a["worker_id"] for a in read_answers(store.repo, 0, 1000) if a.get("worker_id") == "wz"] == ["wz"]


def test_other_code_publishes_through_the_service_hub(store):
    from prometheus_client import CollectorRegistry

    from service.config import Settings
    from service.loop.hub import LoopService

    metrics = CollectorRegistry()
    hub = LoopService(store, HeuristicScorer, Settings(answer_loop=False), metrics)
    row = hub.publish_answer("worker", "wa1", {"code": "offer", "message": "有新的派工邀请"})
    assert read_answers(store.repo, row["cursor"] - 1, 1)[0]["content"]["message"] == "有新的派工邀请"
    assert metrics.get_sample_value("gigmatch_answers_published_total", {"kind": "worker"}) == 1
    hub.update_gauges()
    assert metrics.get_sample_value("gigmatch_followups_due") == 0


def test_a_loop_behind_the_store_never_closes_a_worker_just_stored(store):
    """The loop in its own process follows the store a moment behind the server: a worker the server
    stored (and whose case it opened) since the loop's last look is answered at the next tick, never
    closed ``deleted`` for being missing from the loop's older snapshot."""
    from service.store import open_store

    location = getattr(store.repo, "_dsn", store.repo.url)  # the password-bearing URL on PostgreSQL
    behind = open_store(location)  # the loop process's store: no follower, so it lags until it syncs
    try:
        loop = AnswerLoop(behind, CaseBook(behind.repo), HeuristicScorer, tick_s=0.1, max_km=15.0)
        assert loop.tick() == 11
        server_cases = CaseBook(store.repo)
        for i in range(5):
            wid = f"wnew{i}"
            store.upsert_worker({"worker_id": wid, "lat": "26.7", "lon": str(A), "skills": "packaging"})
            server_cases.on_put("worker", wid, market_now())
        assert loop.tick() >= 5
        new = {f"wnew{i}" for i in range(5)}
        assert all(loop.cases.cases[f"worker:{w}"]["status"] == "open" for w in new)
        answered = {a.get("worker_id") for a in read_answers(behind.repo, 0, 1000)}
        assert new <= answered
    finally:
        behind.close()


def test_a_new_worker_is_opened_once_by_its_put_and_else_by_the_loop(store):
    """The server opens a PUT worker's case right after storing the worker, maybe in another process
    than the loop: a loop that sees the worker first leaves the opening to the PUT (never two
    openings), and opens the case itself only for a worker stored without one (a copy, a script)."""
    loop = AnswerLoop(store, CaseBook(store.repo), HeuristicScorer, tick_s=0.1, max_km=15.0)
    loop.tick()
    server = CaseBook(store.repo)  # the server's view of the cases
    store.upsert_worker({"worker_id": "wput", "lat": "26.7", "lon": str(A), "skills": "packaging"})
    loop.tick()  # sees wput before its PUT has opened the case
    server.on_put("worker", "wput", market_now())
    store.upsert_worker({"worker_id": "wbare", "lat": "26.7", "lon": str(A), "skills": "packaging"})
    loop.tick()
    loop.tick()
    assert [h["action"] for h in server.history("worker", "wput")] == ["opened"]
    assert loop.cases.get("worker", "wbare")["status"] == "open"
    assert {a.get("worker_id") for a in read_answers(store.repo, 0, 1000)} >= {"wput", "wbare"}
