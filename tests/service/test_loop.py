"""The answer loop against a real server (issue #13, 事事有回音): cases, answers within the SLA, the
feed across a restart, follow-ups, closing and re-opening, and the signed webhook."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gigmatch.testing import BACKEND, OPERATOR, Server
from models.registry import Registry
from models.train import train
from service.loop.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from tests import helpers
from tests.helpers import read_pages

SOON = (datetime.now() + timedelta(days=3)).replace(microsecond=0).isoformat()
SLA_S = 5.0
LOOP_ENV = {
    "GIGMATCH_ANSWER_TICK_S": "0.2",
    "GIGMATCH_ANSWER_SLA_S": str(SLA_S),
    "GIGMATCH_ANSWER_SWEEP_S": "1",
}
# three sites on one parallel (26.7 N): A, B 30 km east of A, C 25 km east of B
A, B, C = 117.40, 117.70, 117.95
WORKERS = f"""worker_id,lat,lon,skills,certificates,max_travel_km,min_daily_wage
w_ok,26.70,{A},packaging,,15,
w_cert,26.70,{B},welding:4,,15,
w_far,26.70,{C},welding:6,welding_cert,15,
"""
JOBS = f"""job_id,trade,lat,lon,headcount,start_time,daily_wage
j_pack,packaging,26.70,{A + 0.01},50,{SOON},160
j_weld,welding,26.70,{B + 0.01},1,{SOON},320
"""


@pytest.fixture()
def market(tmp_path):
    folder = tmp_path / "market"
    folder.mkdir()
    (folder / "workers.csv").write_text(WORKERS, encoding="utf-8")
    (folder / "jobs.csv").write_text(JOBS, encoding="utf-8")
    return folder


def feed(client, after=0, limit=1000) -> list[dict]:
    """Every answer after ``after``, page by page."""
    return read_pages(client, "/v1/answers", "answers", after, limit)


def wait_for(predicate, timeout=20.0, step=0.1):
    """``predicate()``'s first truthy value (:func:`tests.helpers.wait_for`)."""
    return helpers.wait_for(predicate, timeout, step)


def latest(answers: list[dict], kind: str, entity_id: str) -> dict | None:
    mine = [a for a in answers if a["kind"] == kind and a.get(f"{kind}_id") == entity_id]
    return mine[-1] if mine else None


def test_every_case_answered_within_sla_with_reasons_hires_closes_and_followups(market, tmp_path):
    srv = Server(tmp_path / "loop.db", data=market, **LOOP_ENV)
    try:
        with srv.client() as c, srv.client(OPERATOR) as op:
            # a burst of new workers: every one is answered within the SLA
            put_at = {}
            for i in range(30):
                wid = f"w_b{i:03d}"
                r = c.put(
                    f"/v1/workers/{wid}", json={"lat": 26.70, "lon": A + 0.002 * i, "skills": ["packaging"]}
                )
                assert r.status_code == 200
                put_at[wid] = time.time()
            wanted = set(put_at) | {"w_ok", "w_cert", "w_far"}
            wait_for(lambda: wanted <= {a.get("worker_id") for a in feed(c)}, timeout=3 * SLA_S)
            answers = feed(c)
            # the server's clock: first answer's created_at against the case's opened_at
            for wid in put_at:
                opened = datetime.fromisoformat(c.get(f"/v1/cases/workers/{wid}").json()["opened_at"])
                first = next(a for a in answers if a.get("worker_id") == wid)
                assert 0 <= (datetime.fromisoformat(first["created_at"]) - opened).total_seconds() <= SLA_S
            burst = latest(answers, "worker", "w_b005")["content"]
            assert burst["code"] == "jobs_found" and burst["jobs"][0]["job_id"] == "j_pack"
            assert burst["message"].startswith("为您找到")

            # a worker who lacks the trade's certificate: the reason and the certificate that would change it
            cert = latest(answers, "worker", "w_cert")["content"]
            assert cert["code"] == "jobs_need_certificate" and cert["jobs"] == []
            assert "证书" in cert["message"]
            assert cert["what_would_change"][0]["code"] == "need_certificate"
            assert cert["what_would_change"][0]["certificate"] == "welding_cert"
            # a worker with no job of their trade within reach: the travel radius that would reach one
            far = latest(answers, "worker", "w_far")["content"]
            assert far["code"] == "jobs_beyond_travel_limit" and far["jobs"] == []
            change = far["what_would_change"][0]
            assert change["code"] == "widen_travel_radius" and change["job_id"] == "j_weld"
            assert 24 <= change["radius_km"] <= 27
            # a job nobody nearby may take: the shortlist is empty and the answer says why
            weld = latest(answers, "job", "j_weld")["content"]
            assert weld["code"] == "certificate_nobody_nearby_holds" and weld["workers"] == []
            # the job near the burst is answered again once the burst's own first answers are out
            pack = wait_for(
                lambda: (p := latest(feed(c), "job", "j_pack")["content"])["workers"][9:] and p,
                timeout=3 * SLA_S,
            )
            assert pack["code"] == "too_few_eligible_workers" and len(pack["workers"]) == 10

            stats = op.get("/v1/loop/stats").json()
            assert stats["answered_within_sla"] == 1.0 and stats["unanswered_open"] == {"worker": 0, "job": 0}
            assert stats["open_cases"]["worker"] == 33 and stats["open_cases"]["job"] == 2

            # a hire closes the case
            now = datetime.now(UTC).replace(microsecond=0).isoformat()  # with its offset: read exactly
            ev = {"ts": now, "job_id": "j_pack", "worker_id": "w_ok", "event": "hired", "event_id": "h1"}
            assert c.post("/v1/events", json={"events": [ev]}).status_code == 200
            case = c.get("/v1/cases/workers/w_ok").json()
            assert case["status"] == "closed" and case["outcome"] == "hired"
            assert [h["action"] for h in case["history"]] == ["opened", "closed"]

            # a closed case is not ranked until a PUT re-opens it
            r = c.post(
                "/v1/cases/workers/w_b000/close",
                json={"reason": "found_work_elsewhere", "note": "回访：已在厂里上班"},
            )
            assert r.status_code == 200 and r.json()["outcome"] == "found_work_elsewhere"
            assert c.post("/v1/cases/workers/w_b000/close", json={"reason": "other"}).status_code == 409
            assert c.post("/v1/cases/workers/w_b000/close", json={"reason": "bored"}).status_code == 422
            assert c.post("/v1/cases/workers/nobody/close", json={"reason": "other"}).status_code == 404
            ranked = c.post("/v1/rank", json={"job_id": "j_pack", "limit": 100}).json()
            ids = {x["worker_id"] for x in ranked["candidates"]}
            assert "w_b000" not in ids and "w_b001" in ids and ranked["excluded"]["case_closed"] == 1
            r = c.post("/v1/rank", json={"job_id": "j_pack", "candidate_ids": ["w_b000", "w_b001"]}).json()
            assert [x["worker_id"] for x in r["candidates"]] == ["w_b001"]
            r = c.post("/v1/slates", json={"job_ids": ["j_pack"], "slate_size": 50})
            assert r.status_code == 200, r.text
            offered = {w["worker_id"] for s in r.json()["slates"] for w in s["workers"]}
            assert "w_b001" in offered and "w_b000" not in offered
            r = c.put("/v1/workers/w_b000", json={"lat": 26.70, "lon": A, "skills": ["packaging"]})
            assert r.status_code == 200
            assert c.get("/v1/cases/workers/w_b000").json()["status"] == "open"
            ranked = c.post("/v1/rank", json={"job_id": "j_pack", "limit": 100}).json()
            assert "w_b000" in {x["worker_id"] for x in ranked["candidates"]}
            # re-opened: answered again
            wait_for(
                lambda: len([a for a in feed(c) if a.get("worker_id") == "w_b000"]) >= 2, timeout=3 * SLA_S
            )

            # follow-ups eight days on: exactly the open worker cases with no outcome and no application
            applied_at = datetime.now(UTC).isoformat()  # after w_b001's answers (`now` is truncated)
            ev = {
                "ts": applied_at,
                "job_id": "j_pack",
                "worker_id": "w_b001",
                "event": "applied",
                "event_id": "a1",
            }
            assert c.post("/v1/events", json={"events": [ev]}).status_code == 200
            later = (datetime.now(UTC) + timedelta(days=8)).replace(microsecond=0).isoformat()
            r = op.get("/v1/followups", params={"as_of": later})
            assert r.status_code == 200, r.text
            due = {f["worker_id"] for f in r.json()["followups"]}
            assert due == (wanted - {"w_ok", "w_b001"})
            assert all(f["days_waiting"] >= 7.9 for f in r.json()["followups"])
            assert op.get("/v1/followups").json()["followups"] == []  # nobody is due today
            assert op.get("/v1/followups", params={"as_of": "yesterday"}).status_code == 422
            assert c.get("/v1/followups").status_code == 403  # operators only
            assert "gigmatch_cases_open" in c.get("/metrics").text
    finally:
        srv.stop()


def test_feed_pages_without_loss_or_duplicates_across_a_restart(market, tmp_path):
    db = tmp_path / "feed.db"
    srv = Server(db, data=market, **LOOP_ENV)
    try:
        with srv.client() as c:
            for i in range(20):
                c.put(f"/v1/workers/w_f{i:03d}", json={"lat": 26.70, "lon": A, "skills": ["packaging"]})
            wait_for(lambda: len(feed(c)) >= 25)
            pages, after = [], 0
            for _ in range(3):  # a reader part-way through, with small pages
                page = c.get("/v1/answers", params={"after": after, "limit": 4}).json()
                pages += page["answers"]
                after = page["next_cursor"]
        srv.kill()  # a crash, not a shutdown
        srv = Server(db, **LOOP_ENV)
        with srv.client() as c:
            for i in range(20, 30):  # more answers after the restart
                c.put(f"/v1/workers/w_f{i:03d}", json={"lat": 26.70, "lon": A, "skills": ["packaging"]})
            wait_for(lambda: {"w_f029"} <= {a.get("worker_id") for a in feed(c)})
            # the loop keeps publishing (re-answers) while the test reads: the whole feed read first
            # must be a prefix of the paged read that comes after it, with nothing twice
            whole = feed(c)
            rest = feed(c, after=after, limit=3)
            got = pages + rest
            assert [a["answer_id"] for a in got][: len(whole)] == [a["answer_id"] for a in whole]
            assert len({a["answer_id"] for a in got}) == len(got)
            assert len({a["answer_id"] for a in whole}) == len(whole)
            assert [a["cursor"] for a in whole] == sorted(a["cursor"] for a in whole)
            assert {f"w_f{i:03d}" for i in range(30)} <= {a.get("worker_id") for a in whole}
            r = c.get("/v1/answers", params={"after": -1})
            assert r.status_code == 422 and "after" in r.json()["detail"]
    finally:
        srv.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) is not alive
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


def test_the_loop_runs_in_its_own_process_which_restarts_and_follows_the_server(
    market, small_market_dir, tmp_path
):
    """The answers are computed in a child process at a lower CPU priority (so they never hold the
    server's GIL nor its cores): it is restarted when it dies, answers with the model the server
    serves, and does not outlive a server killed with SIGKILL."""
    registry = tmp_path / "registry"
    train(small_market_dir, registry, seed=1, params={"n_estimators": 5})
    srv = Server(tmp_path / "proc.db", data=market, model=registry, **LOOP_ENV)
    try:
        with srv.client() as c, srv.client(OPERATOR) as op:
            runner = wait_for(lambda: (r := op.get("/v1/loop/stats").json()["runner"])["pid"] and r)
            serving = op.get("/v1/models").json()["serving"]
            assert runner["mode"] == "process" and runner["restarts"] == 0 and runner["model"] == serving
            child = runner["pid"]
            assert child != srv.proc.pid and _alive(child)
            assert os.getpriority(os.PRIO_PROCESS, child) > os.getpriority(os.PRIO_PROCESS, srv.proc.pid)
            wait_for(lambda: "w_ok" in {a.get("worker_id") for a in feed(c)})

            os.kill(child, signal.SIGKILL)  # the loop dies: the server starts another, nothing is lost
            runner = wait_for(
                lambda: (r := op.get("/v1/loop/stats").json()["runner"])["pid"] not in (None, child) and r
            )
            assert runner["restarts"] == 1
            c.put("/v1/workers/w_after", json={"lat": 26.70, "lon": A, "skills": ["packaging"]})
            wait_for(lambda: "w_after" in {a.get("worker_id") for a in feed(c)}, timeout=3 * SLA_S)

            # a new model served by the server is the loop's model too
            other = train(small_market_dir, registry, seed=2, params={"n_estimators": 5})
            Registry(registry).set_current(other[1]["version"])
            fresh = op.post("/v1/models/reload").json()["serving"]
            assert fresh != serving
            wait_for(lambda: op.get("/v1/loop/stats").json()["runner"]["model"] == fresh)
            child = runner["pid"]
        srv.kill()  # SIGKILL: the loop's process reads end-of-file and exits
        wait_for(lambda: not _alive(child))
    finally:
        srv.stop()


def test_the_loop_as_a_thread_when_asked(market, tmp_path):
    srv = Server(tmp_path / "thread.db", data=market, GIGMATCH_ANSWER_PROCESS="false", **LOOP_ENV)
    try:
        with srv.client() as c, srv.client(OPERATOR) as op:
            wait_for(lambda: {"w_ok", "w_cert", "w_far"} <= {a.get("worker_id") for a in feed(c)})
            assert op.get("/v1/loop/stats").json()["runner"] == {
                "mode": "thread",
                "pid": None,
                "restarts": 0,
                "model": "heuristic-v1",
            }
    finally:
        srv.stop()


class Receiver:
    """A real HTTP server that fails the first ``fail`` deliveries with 503, then accepts."""

    def __init__(self, secret: str, fail: int):
        self.secret, self.fail = secret, fail
        self.received: list[dict] = []
        self.attempts = 0
        self.failures = 0
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                ok = verify(
                    receiver.secret, self.headers[TIMESTAMP_HEADER], body, self.headers[SIGNATURE_HEADER]
                )
                receiver.bad_signatures += not ok
                if receiver.fail > 0 or not ok:
                    receiver.fail -= 1
                    receiver.failures += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/hook"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


def test_webhook_gets_every_answer_once_its_endpoint_recovers(market, tmp_path):
    secret = "s3cret-for-the-webhook-test"
    receiver = Receiver(secret, fail=4)
    env = {
        **LOOP_ENV,
        "GIGMATCH_WEBHOOK_URL": receiver.url,
        "GIGMATCH_WEBHOOK_SECRET": secret,
        "GIGMATCH_WEBHOOK_BACKOFF_S": "0.1",
    }
    db = tmp_path / "hook.db"
    srv = Server(db, data=market, **env)
    try:
        with srv.client() as c:
            wait_for(lambda: len(feed(c)) >= 5)
            wait_for(lambda: receiver.attempts >= 3)
        srv.kill()  # mid-way: the outbox (feed + cursor) is on disk
        receiver.fail = 2  # the endpoint is still failing when this process starts delivering
        srv = Server(db, **env)
        with srv.client() as c:
            c.put("/v1/workers/w_hook", json={"lat": 26.70, "lon": A, "skills": ["packaging"]})
            # the killed process's leases lapse first (10 s), then this one delivers
            wait_for(lambda: "w_hook" in {a.get("worker_id") for a in receiver.received}, timeout=60)
            whole = {a["answer_id"] for a in feed(c)}
            wait_for(lambda: whole <= {a["answer_id"] for a in receiver.received})
            got = [a["cursor"] for a in receiver.received]
            assert got == sorted(got)  # in order
            assert receiver.bad_signatures == 0
            # the failures before the restart were counted there; this process counts its own two
            metrics = {
                line.split(" ")[0]: float(line.split(" ")[1])
                for line in c.get("/metrics").text.splitlines()
                if line.startswith("gigmatch_webhook_deliveries_total")
            }
            assert metrics['gigmatch_webhook_deliveries_total{outcome="failed"}'] == 2
            assert metrics['gigmatch_webhook_deliveries_total{outcome="delivered"}'] >= 1
    finally:
        srv.stop()
        receiver.http.shutdown()
    assert receiver.failures >= 3 + 2  # failed before the kill, and twice after the restart


@pytest.mark.parametrize(
    "env, message",
    [
        ({"GIGMATCH_WEBHOOK_URL": "ftp://x"}, "GIGMATCH_WEBHOOK_URL"),
        ({"GIGMATCH_WEBHOOK_URL": "http://127.0.0.1:9/h"}, "GIGMATCH_WEBHOOK_SECRET is empty"),
        ({"GIGMATCH_WEBHOOK_URL": "http://127.0.0.1:9/h", "GIGMATCH_WEBHOOK_SECRET": "short"}, "16"),
        ({"GIGMATCH_WEBHOOK_SECRET": "a-long-enough-secret"}, "GIGMATCH_WEBHOOK_URL is empty"),
    ],
)
def test_bad_webhook_settings_stop_the_start_with_one_line(tmp_path, env, message):
    import os

    run = subprocess.run(
        [sys.executable, "-m", "gigmatch.cli", "serve", "--db", str(tmp_path / "x.db")],
        env={**os.environ, "GIGMATCH_API_KEYS": f"{BACKEND}:backend", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], run.stderr


def test_two_replicas_over_postgres_answer_once_and_share_cases(market, postgres, tmp_path):
    """Two replicas over one PostgreSQL database: each case is answered once (the lease), a case
    closed through one replica stops the other from ranking the worker, and a worker stored through
    either is answered."""
    from tests.service.test_replicas import start_together

    database = postgres.create_database("loop_pair")
    a, b = start_together(2, tmp_path, data=market, store=database, **LOOP_ENV)  # with FAST follow
    try:
        with a.client() as ca, b.client() as cb:
            wait_for(
                lambda: {"w_ok", "w_cert", "w_far"} <= {x.get("worker_id") for x in feed(ca)}, timeout=60
            )
            time.sleep(1.0)  # a few more ticks on both replicas
            answers = feed(cb)
            for wid in ("w_ok", "w_cert", "w_far"):
                assert sum(x.get("worker_id") == wid for x in answers) == 1, wid
            assert [x["cursor"] for x in feed(ca)] == [x["cursor"] for x in answers]  # one feed
            r = cb.post("/v1/cases/workers/w_ok/close", json={"reason": "unreachable"})
            assert r.status_code == 200

            def a_leaves_out_w_ok():
                ranked = ca.post("/v1/rank", json={"job_id": "j_pack", "limit": 100}).json()
                return "w_ok" not in {x["worker_id"] for x in ranked["candidates"]}

            wait_for(a_leaves_out_w_ok, timeout=10)
            assert ca.get("/v1/cases/workers/w_ok").json()["outcome"] == "unreachable"
            put = cb.put("/v1/workers/w_rep", json={"lat": 26.70, "lon": A, "skills": ["packaging"]})
            assert put.status_code == 200
            wait_for(lambda: "w_rep" in {x.get("worker_id") for x in feed(ca)}, timeout=30)
    finally:
        a.stop()
        b.stop()
