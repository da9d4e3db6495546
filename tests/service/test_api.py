"""Integration tests: a real uvicorn server in a subprocess, exercised over HTTP."""

from __future__ import annotations

import json
import re
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
    ("get", "/v1/offers", None),
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


def test_events_about_unknown_workers_or_jobs_are_refused_naming_the_row(server):
    # issue #20: {"worker_id": "nobody"} was accepted while `validate` refuses the same row in a file
    ev = {"ts": "2026-11-20T09:00:00", "job_id": "j000001", "worker_id": "w000001", "event": "shown"}
    with server.client() as c:
        batch = [{**ev, "event_id": f"u-{i}"} for i in range(500)]
        batch[321] = {**ev, "worker_id": "nobody", "event_id": "u-321"}
        batch[400] = {**ev, "job_id": "no-such-job", "event_id": "u-400"}
        r = c.post("/v1/events", json={"events": batch})
        assert r.status_code == 422
        assert r.json()["detail"] == "events.321.worker_id: unknown worker 'nobody'"
        assert r.json()["errors"][0]["loc"] == ["body", "events", 321, "worker_id"]
        batch[321] = {**ev, "event_id": "u-321"}
        r = c.post("/v1/events", json={"events": batch})
        assert r.status_code == 422 and r.json()["detail"] == "events.400.job_id: unknown job 'no-such-job'"
        # nothing of a refused batch was stored: the same batch, corrected, is accepted in full
        batch[400] = {**ev, "event_id": "u-400"}
        assert c.post("/v1/events", json={"events": batch}).json() == {"accepted": 500, "duplicates": 0}
        # a worker stored through the API is known from the next request on; once deleted, not any more
        assert (
            c.put("/v1/workers/late-comer", json={"lat": 26.7, "lon": 117.4, "skills": []}).status_code == 200
        )
        late = {**ev, "worker_id": "late-comer", "event_id": "late-1"}
        assert c.post("/v1/events", json={"events": [late]}).json() == {"accepted": 1, "duplicates": 0}
        assert c.delete("/v1/workers/late-comer").status_code == 200
        r = c.post("/v1/events", json={"events": [{**late, "event_id": "late-2"}]})
        assert r.status_code == 422 and "unknown worker 'late-comer'" in r.json()["detail"]


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


def test_a_body_may_carry_its_own_id(server):
    # issue #20: an exported row with its own worker_id/job_id got "Extra inputs are not permitted"
    worker = {"worker_id": "own-id", "lat": 26.7, "lon": 117.4, "skills": ["moving"]}
    job = {"job_id": "own-job", "trade": "moving", "lat": 26.7, "lon": 117.4, "start_time": SOON}
    with server.client() as c:
        assert c.put("/v1/workers/own-id", json=worker).json() == {"id": "own-id", "status": "stored"}
        r = c.put("/v1/workers/other-id", json=worker)
        assert r.status_code == 422
        assert r.json()["detail"] == "worker_id: 'own-id' in the body differs from 'other-id' in the path"
        assert c.put("/v1/jobs/own-job", json=job).status_code == 200
        r = c.put("/v1/jobs/else", json=job)
        assert r.status_code == 422 and r.json()["detail"].startswith("job_id: 'own-job' in the body differs")
        # inline in rank/recommend the entity is scored as sent; its own id is ignored
        ranked = c.post("/v1/rank", json={"job": {**job, "job_id": "j000001"}, "limit": 3})
        assert ranked.status_code == 200
        plain = c.post("/v1/rank", json={"job": job, "limit": 3}).json()
        assert ranked.json()["candidates"] == plain["candidates"]
        assert c.post("/v1/recommend", json={"worker": worker}).status_code == 200
        assert (
            c.delete("/v1/workers/own-id").status_code == 200
            and c.delete("/v1/jobs/own-job").status_code == 200
        )


def test_docs_page_and_its_assets_are_served_from_this_host(server):
    # issue #20: /docs loaded Swagger UI from a CDN and was a blank page on a closed network
    with server.client(None) as c:
        page = c.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert "http://" not in html and "https://" not in html  # nothing off-host, not even a font
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"url: ?'([^']+)'", html)
        assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/openapi.json"} <= set(
            urls
        )
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), url
            r = c.get(url)
            assert r.status_code == 200, url
            if url.endswith(".css"):
                refs = re.findall(r"url\(\s*['\"]?([^'\")]+)", r.text)
                assert all(ref.startswith("data:") or "://" not in ref for ref in refs), refs
        assert (
            c.get("/docs/assets/swagger-ui-bundle.js").headers["content-type"].startswith("text/javascript")
        )
        assert len(c.get("/docs/assets/swagger-ui-bundle.js").content) > 500_000  # the real bundle
        assert c.get("/docs/assets/../../app.py").status_code == 404
        assert c.get("/docs/assets/index.html").status_code == 404
        assert c.get("/redoc").status_code == 404  # not served: its bundle fetches a logo from a CDN
        assert "validatorUrl" in html  # Swagger UI's online validator is switched off


def test_metrics_file_every_answer_under_its_route(server):
    # issue #20: /openapi.json, /docs and 413 answers were filed under endpoint="unmatched"
    blob = b"x" * 3_000_000
    json_type = {"Content-Type": "application/json"}
    with server.client() as c:  # refused on Content-Length, before routing; the server then hangs up
        assert c.post("/v1/events", content=blob, headers=json_type).status_code == 413
    with server.client() as c:  # chunked, refused once the limit is read
        chunks = (blob[i : i + 65536] for i in range(0, len(blob), 65536))
        assert c.put("/v1/workers/w1", content=chunks, headers=json_type).status_code == 413
    with server.client() as c:
        c.get("/openapi.json")
        c.get("/docs")
        c.get("/docs/assets/swagger-ui.css")
        c.get("/no/such/path")
        text = c.get("/metrics").text
    for endpoint, status in (
        ("/openapi.json", "200"),
        ("/docs", "200"),
        ("/docs/assets/{name}", "200"),
        ("/v1/events", "413"),
        ("/v1/workers/{worker_id}", "413"),
        ("unmatched", "404"),
    ):
        assert f'gigmatch_request_seconds_count{{endpoint="{endpoint}",status="{status}"}}' in text, endpoint
    assert "/v1/workers/w1" not in text and "/no/such/path" not in text


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
