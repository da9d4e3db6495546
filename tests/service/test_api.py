"""Integration tests: a real uvicorn server in a subprocess, exercised over HTTP."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from datetime import datetime, timedelta

import pytest
from openapi_spec_validator import validate

from gigmatch.testing import BACKEND, OPERATOR, Server
from models.train import train

SOON = (datetime.now() + timedelta(days=3)).replace(microsecond=0).isoformat()


@pytest.fixture(scope="module")
def registry(small_market_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("svc-registry")
    train(small_market_dir, root, seed=1)
    return root


@pytest.fixture(scope="module")
def server(small_market_dir, registry, tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("svc") / "store.db", data=small_market_dir, model=registry)
    yield srv
    srv.stop()


ENDPOINTS = [
    ("post", "/v1/rank", {"job_id": "j000001"}),
    ("post", "/v1/recommend", {"worker_id": "w000001"}),
    ("post", "/v1/events", {"events": []}),
    ("put", "/v1/workers/x", {}),
    ("delete", "/v1/workers/x", None),
    ("put", "/v1/jobs/x", {}),
    ("delete", "/v1/jobs/x", None),
    ("post", "/v1/assign", {"job_ids": ["j000001"]}),
    ("get", "/v1/models", None),
    ("post", "/v1/models/reload", None),
    ("get", "/metrics", None),
    ("get", "/v1/answers", None),
    ("post", "/v1/cases/workers/x/close", {"reason": "other"}),
    ("get", "/v1/cases/workers/x", None),
    ("get", "/v1/cases/jobs/x", None),
    ("get", "/v1/followups", None),
    ("get", "/v1/loop/stats", None),
]


def test_health_needs_no_key_everything_else_does(server):
    with server.client(None) as anon, server.client("wrong-key-123456") as wrong:
        assert anon.get("/healthz").status_code == 200 and anon.get("/readyz").json()["workers"] == 3000
        for method, path, body in ENDPOINTS:
            kwargs = {"json": body} if body is not None else {}
            assert anon.request(method, path, **kwargs).status_code == 401, path
            assert wrong.request(method, path, **kwargs).status_code == 401, path


def test_backend_key_cannot_call_operator_endpoints(server):
    with server.client(BACKEND) as c:
        assert c.post("/v1/assign", json={"job_ids": ["j000001"]}).status_code == 403
        assert c.post("/v1/models/reload").status_code == 403


def test_rank_by_id_and_by_job_object(server):
    with server.client() as c:
        r = c.post("/v1/rank", json={"job_id": "j000001", "limit": 5, "max_km": 10})
        assert r.status_code == 200
        body = r.json()
        assert body["model_version"] != "heuristic-v1"
        scores = [x["score"] for x in body["candidates"]]
        assert 0 < len(scores) <= 5 and scores == sorted(scores, reverse=True)
        assert all(x["distance_km"] <= 10 and x["reasons"] for x in body["candidates"])
        assert sum(body["excluded"].values()) > 0
        # logged feedback (#17): each candidate carries its position and the policy that placed it
        assert [x["position"] for x in body["candidates"]] == list(range(1, len(scores) + 1))
        assert {x["policy"] for x in body["candidates"]} == {body["policy"]} == {body["model_version"]}
        shown = [
            {
                "ts": "2026-11-20T09:00:00",
                "job_id": "j000001",
                "worker_id": x["worker_id"],
                "event": "shown",
                "position": x["position"],
                "policy": x["policy"],
                "event_id": f"pos-{x['position']}",
            }
            for x in body["candidates"]
        ]
        assert c.post("/v1/events", json={"events": shown}).json()["accepted"] == len(shown)
        bad = {**shown[0], "position": 0, "event_id": "pos-bad"}
        r = c.post("/v1/events", json={"events": [bad]})
        assert r.status_code == 422 and "events.0.position" in r.json()["detail"]
        rec = c.post("/v1/recommend", json={"worker_id": "w000001", "max_km": 30}).json()
        assert [x["position"] for x in rec["jobs"]] == list(range(1, len(rec["jobs"]) + 1))
        assert rec["policy"] == rec["model_version"]
        job = {"trade": "welding", "lat": 26.73, "lon": 117.47, "start_time": SOON}
        r = c.post("/v1/rank", json={"job": job, "limit": 3})
        assert r.status_code == 200
        assert "certificate_missing" in r.json()["excluded"] or "no_matching_skill" in r.json()["excluded"]
        r = c.post("/v1/rank", json={"job_id": "j000001", "candidate_ids": ["w000001", "w000002", "nobody"]})
        assert r.json()["excluded"].get("unknown_worker") == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"job": {"trade": "welding", "lat": 91, "lon": 117}}, "job.lat"),
        ({"job": {"trade": "welding", "lat": 26, "lon": 117, "headcount": -1}}, "job.headcount"),
        ({"job_id": "j000001", "limit": 0}, "limit"),
        ({"job_id": "j000001", "max_km": -5}, "max_km"),
        ({}, "give exactly one of 'job' or 'job_id'"),
        ({"job_id": "j000001", "surprise": 1}, "surprise"),
    ],
)
def test_malformed_bodies_get_422_naming_the_field(server, body, field):
    with server.client() as c:
        r = c.post("/v1/rank", json=body)
        assert r.status_code == 422
        assert field in r.json()["detail"]


def test_unknown_ids_are_404(server):
    with server.client() as c:
        assert c.post("/v1/rank", json={"job_id": "no-such-job"}).status_code == 404
        assert c.post("/v1/recommend", json={"worker_id": "no-such-worker"}).status_code == 404
        assert c.delete("/v1/jobs/no-such-job").status_code == 404
    with server.client(OPERATOR) as c:
        assert c.post("/v1/assign", json={"job_ids": ["no-such-job"]}).status_code == 404


def test_events_are_idempotent(server):
    ev = {
        "ts": "2026-11-20T09:00:00",
        "job_id": "j000001",
        "worker_id": "w000001",
        "event": "applied",
        "event_id": "t-1",
    }
    with server.client() as c:
        assert c.post("/v1/events", json={"events": [ev]}).json() == {"accepted": 1, "duplicates": 0}
        assert c.post("/v1/events", json={"events": [ev, ev]}).json() == {"accepted": 0, "duplicates": 2}
        bad = {**ev, "event": "rated", "event_id": "t-2"}
        r = c.post("/v1/events", json={"events": [bad]})
        assert r.status_code == 422 and "rating" in r.json()["detail"]


def test_put_delete_and_recommend_never_shows_deleted_jobs(server):
    with server.client() as c:
        worker = {
            "lat": 26.70,
            "lon": 117.40,
            "skills": ["installation:4"],
            "preferred_trades": ["installation"],
        }
        assert c.put("/v1/workers/new-worker", json=worker).json() == {"id": "new-worker", "status": "stored"}
        job = {"trade": "installation", "lat": 26.701, "lon": 117.401, "start_time": SOON, "daily_wage": 300}
        assert c.put("/v1/jobs/new-job", json=job).status_code == 200
        rec = c.post("/v1/recommend", json={"worker_id": "new-worker"}).json()
        assert "new-job" in [j["job_id"] for j in rec["jobs"]]
        assert c.delete("/v1/jobs/new-job").status_code == 200
        rec = c.post("/v1/recommend", json={"worker_id": "new-worker"}).json()
        assert "new-job" not in [j["job_id"] for j in rec["jobs"]]
        weld = {"trade": "welding", "lat": 26.701, "lon": 117.401, "start_time": SOON}
        c.put("/v1/jobs/weld-job", json=weld)
        welder = {"lat": 26.70, "lon": 117.40, "skills": ["welding:3"], "max_travel_km": 5}
        rec = c.post("/v1/recommend", json={"worker": welder}).json()
        assert rec["jobs"] == [] and rec["message"]
        assert any("welding_cert" in s for s in rec["what_would_change"])


def test_assign_by_operator(server):
    with server.client(OPERATOR) as c:
        r = c.post("/v1/assign", json={"job_ids": ["j000001", "j000002", "j000003"], "max_km": 15})
        assert r.status_code == 200
        body = r.json()
        assert body["summary"]["slots"] >= 3 and len(body["assignments"]) == body["summary"]["filled"]


def test_models_reload_refuses_a_broken_artifact(server, registry):
    with server.client(OPERATOR) as c:
        serving = c.get("/v1/models").json()["serving"]
        broken = registry / "versions" / "broken"
        shutil.copytree(registry / "versions" / serving, broken)
        (broken / "model.joblib").write_bytes(b"truncated")
        (registry / "current").write_text("broken\n")
        try:
            r = c.post("/v1/models/reload")
            assert r.status_code == 409 and "still serving" in r.json()["detail"]
            assert c.get("/v1/models").json()["serving"] == serving
            assert c.post("/v1/rank", json={"job_id": "j000001"}).json()["model_version"] == serving
        finally:
            (registry / "current").write_text(serving + "\n")
            shutil.rmtree(broken)
        assert c.post("/v1/models/reload").json()["serving"] == serving


def test_metrics_and_openapi(server):
    with server.client() as c:
        text = c.get("/metrics").text
        assert "gigmatch_request_seconds_bucket" in text and "gigmatch_model_info" in text
        spec = c.get("/openapi.json").json()
    validate(spec)
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if path in ("/healthz", "/readyz", "/metrics"):
                continue
            ok = op["responses"]["200"]["content"]["application/json"]["schema"]
            assert "$ref" in ok, (path, method)
            name = ok["$ref"].split("/")[-1]
            assert spec["components"]["schemas"][name].get("examples"), f"{name} has no example"
            if "requestBody" in op:
                req = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
                assert spec["components"]["schemas"][req].get("examples"), f"{req} has no example"


def test_acknowledged_events_survive_sigkill(small_market_dir, tmp_path):
    db = tmp_path / "crash.db"
    srv = Server(db, data=small_market_dir)
    acked: list[str] = []
    stop = threading.Event()

    def post(worker: int):
        with srv.client() as c:
            for i in range(10_000):
                if stop.is_set():
                    return
                ids = [f"k{worker}-{i}-{k}" for k in range(5)]
                events = [
                    {
                        "ts": "2026-11-20T09:00:00",
                        "job_id": "j000001",
                        "worker_id": "w000001",
                        "event": "shown",
                        "event_id": e,
                    }
                    for e in ids
                ]
                try:
                    r = c.post("/v1/events", json={"events": events})
                except Exception:
                    return
                if r.status_code == 200:
                    acked.extend(ids)

    threads = [threading.Thread(target=post, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    while len(acked) < 300:
        threading.Event().wait(0.05)
    srv.kill()
    stop.set()
    for t in threads:
        t.join(30)
    restarted = Server(db)
    try:
        with restarted.client() as c:
            assert c.get("/readyz").status_code == 200
    finally:
        restarted.stop()
    stored = {r[0] for r in sqlite3.connect(db).execute("SELECT event_id FROM events")}
    missing = [e for e in acked if e not in stored]
    assert not missing, f"{len(missing)} acknowledged events lost"
    assert len(acked) >= 300
    assert json.dumps(len(stored))  # every stored id appears once (primary key)
