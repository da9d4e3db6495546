"""Several service replicas over one PostgreSQL database (issue #16): real ``gigmatch serve`` processes
over a real server that the session starts (``postgres`` fixture), no mocks.

A write on A is read on B within a second; event ids are idempotent across replicas; SIGKILL of A
while clients post loses no acknowledged event and B never stops answering; a model promoted in the
registry serves on both; ``--workers 2`` runs two replicas behind one port; an outage of the database
answers writes with 503 and one line while reads go on.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time

import httpx
import psycopg
import pytest

from gigmatch.core.contract import load_market
from gigmatch.sim import SimulationConfig, write_simulation
from gigmatch.testing import PostgresServer, Server
from models.registry import Registry
from models.train import train

START_S = 300.0  # a loaded 2-core machine needs long to start a server (spawned imports, seeding)
FAST = {"GIGMATCH_FOLLOW_S": "0.3", "GIGMATCH_MODEL_POLL_S": "0.5", "GIGMATCH_EVENTS_REFRESH_S": "0.5"}


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    out = tmp_path_factory.mktemp("replica-market")
    write_simulation(SimulationConfig(workers=400, jobs=60, days=5, seed=9), out)
    return out


@pytest.fixture
def database(postgres, request):
    name = "r_" + request.node.name.lower().replace("test_", "")[:40]
    return postgres.create_database(name)


@pytest.fixture(scope="module")
def registry(market, tmp_path_factory):
    """A registry with two versions: the first current, the second ready to be promoted."""
    root = tmp_path_factory.mktemp("replica-registry") / "registry"
    train(market, root, seed=1)
    train(market, root, seed=2)
    return root


@pytest.fixture(scope="module")
def pair(market, registry, postgres, tmp_path_factory):
    """Replicas A and B started at the same moment over one empty database (they race to migrate and
    seed), serving the registry. The tests that use them run in file order; the last kills A."""
    database = postgres.create_database("r_pair")
    a, b = start_together(2, tmp_path_factory.mktemp("pair"), data=market, model=registry, store=database)
    yield a, b, database
    a.stop()
    b.stop()


def start_together(n: int, tmp_path, **kwargs) -> list[Server]:
    """``n`` servers started at the same moment (they race to migrate and seed)."""
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        futures = [
            pool.submit(Server, tmp_path / f"replica{i}.db", start_timeout_s=START_S, **kwargs, **FAST)
            for i in range(n)
        ]
        return [f.result() for f in futures]


def wait_until(check, timeout_s: float = 5.0) -> float:
    """Seconds until ``check()`` is true (fails after ``timeout_s``)."""
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < timeout_s, "not within the timeout"
        time.sleep(0.02)
    return time.monotonic() - t0


def event(i: int, job: str, worker: str, prefix: str = "t16-") -> dict:
    return {
        "event_id": f"{prefix}{i}",
        "ts": "2026-10-01T08:00:00",
        "job_id": job,
        "worker_id": worker,
        "event": "shown",
    }


def test_a_write_on_a_is_read_on_b_and_events_are_stored_once(market, pair):
    m = load_market(market)
    a, b, database = pair
    with psycopg.connect(database) as conn:  # seeded once although both started on an empty database
        fed = conn.execute("SELECT count(*) FROM changes WHERE tbl = 'workers'").fetchone()[0]
    assert fed == len(m.workers)
    ca, cb = a.client(), b.client()
    worker = {"lat": float(m.workers["lat"][0]), "lon": float(m.workers["lon"][0]), "skills": ["moving"]}
    assert ca.put("/v1/workers/w-new", json=worker).status_code == 200
    seen = wait_until(lambda: cb.post("/v1/recommend", json={"worker_id": "w-new"}).status_code == 200)
    assert seen < 1.0, f"B served A's new worker after {seen:.2f} s"
    job = str(m.jobs["job_id"][0])
    assert cb.delete(f"/v1/jobs/{job}").status_code == 200
    assert wait_until(lambda: ca.post("/v1/rank", json={"job_id": job}).status_code == 404) < 1.0
    jobs, workers = m.jobs["job_id"].astype(str).tolist(), m.workers["worker_id"].astype(str).tolist()
    batch = [event(i, jobs[1], workers[i]) for i in range(50)]
    first = ca.post("/v1/events", json={"events": batch[:30]}).json()
    second = cb.post("/v1/events", json={"events": batch}).json()
    assert first == {"accepted": 30, "duplicates": 0} and second == {"accepted": 20, "duplicates": 30}
    assert ca.post("/v1/events", json={"events": batch}).json() == {"accepted": 0, "duplicates": 50}
    with psycopg.connect(database) as conn:
        n = conn.execute("SELECT count(*) FROM events WHERE event_id LIKE 't16-%%'").fetchone()[0]
    assert n == 50
    # both replicas count the same store
    assert wait_until(lambda: ca.get("/readyz").json() == cb.get("/readyz").json()) < 1.0


def test_a_model_promoted_in_the_registry_serves_on_both(pair, registry):
    a, b, _ = pair
    reg = Registry(registry)
    first, second = reg.current(), [v for v in reg.versions() if v != reg.current()][0]
    for srv in (a, b):
        assert srv.client().get("/v1/models").json()["serving"] == first
    reg.set_current(second)  # what `gigmatch models promote` does
    try:
        for srv in (a, b):
            with srv.client() as c:
                assert wait_until(lambda c=c: c.get("/v1/models").json()["serving"] == second) < 3.0
    finally:
        reg.set_current(first)


def test_workers_2_serves_two_replicas_behind_one_port(market, database, tmp_path):
    m = load_market(market)
    srv = Server(
        tmp_path / "pair.db", data=market, store=database, workers=2, start_timeout_s=START_S, **FAST
    )
    try:
        with srv.client() as c:
            worker = {"lat": float(m.workers["lat"][0]), "lon": float(m.workers["lon"][0]), "skills": []}
            assert c.put("/v1/workers/w-both", json=worker).status_code == 200
            time.sleep(1.0)  # both processes have followed the write
            # new connections are spread over both processes: every answer knows the worker
            for _ in range(20):
                with srv.client() as fresh:
                    assert fresh.post("/v1/recommend", json={"worker_id": "w-both"}).status_code == 200
        pids = {
            line.split("[")[-1].rstrip("]")
            for line in srv.log.read_text().splitlines()
            if "Started server process" in line
        }
        assert len(pids) == 2
    finally:
        srv.stop()


def test_an_outage_of_the_database_answers_writes_503_and_reads_go_on(market, tmp_path):
    own = PostgresServer()  # a server of its own, to stop under the replica
    try:
        srv = Server(
            tmp_path / "outage.db",
            data=market,
            store=own.create_database("outage"),
            start_timeout_s=START_S,
            **FAST,
        )
    except Exception:
        own.stop()
        raise
    try:
        m = load_market(market)
        own.stop()
        with srv.client() as c:
            r = c.post(
                "/v1/events",
                json={"events": [event(1, str(m.jobs["job_id"][0]), str(m.workers["worker_id"][0]))]},
            )
            assert r.status_code == 503 and "unavailable" in r.json()["detail"]
            assert "\n" not in r.json()["detail"] and "Traceback" not in r.text
            assert c.post("/v1/rank", json={"job_id": str(m.jobs["job_id"][1])}).status_code == 200
            assert c.get("/readyz").status_code == 503
    finally:
        srv.stop()
        own.stop()


def test_sigkill_of_a_while_posting_loses_no_acknowledged_event(market, pair):
    m = load_market(market)
    a, b, _ = pair
    jobs, workers = m.jobs["job_id"].astype(str).tolist(), m.workers["worker_id"].astype(str).tolist()
    jobs = jobs[1:]  # the first job was deleted by the write-on-A test, and events must name stored jobs
    acknowledged: list[dict] = []
    lock = threading.Lock()
    stop = threading.Event()
    b_failures: list[str] = []
    b_answers = [0]

    def post(client_no: int) -> None:
        with httpx.Client(
            base_url=a.url, headers={"Authorization": "Bearer backend-key-for-tests"}, timeout=5
        ) as c:
            for n in range(10_000):
                batch = [
                    event(n * 10 + k, jobs[k % len(jobs)], workers[(n + k) % len(workers)], f"c{client_no}-")
                    for k in range(10)
                ]
                try:
                    r = c.post("/v1/events", json={"events": batch})
                except httpx.TimeoutException:
                    continue  # A is slow: this batch is not acknowledged, so it is not counted
                except httpx.HTTPError:
                    return  # A is gone
                if r.status_code == 200:
                    with lock:
                        acknowledged.extend(batch)

    def read_b() -> None:
        with b.client() as c:
            while not stop.is_set():
                r = c.post("/v1/rank", json={"job_id": jobs[2], "limit": 5})
                if r.status_code != 200:
                    b_failures.append(f"{r.status_code} {r.text[:200]}")
                b_answers[0] += 1

    try:
        reader = threading.Thread(target=read_b)
        reader.start()
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            posters = [pool.submit(post, i) for i in range(3)]
            t0 = time.monotonic()  # kill A mid-stream, once the clients have had answers
            while len(acknowledged) < 200 and time.monotonic() - t0 < 60:
                time.sleep(0.05)
            a.kill()
            for f in posters:
                f.result()
        time.sleep(0.5)
        stop.set()
        reader.join()
        assert len(acknowledged) >= 100
        with b.client() as cb:
            for start in range(0, len(acknowledged), 5000):
                chunk = acknowledged[start : start + 5000]
                assert cb.post("/v1/events", json={"events": chunk}).json() == {
                    "accepted": 0,
                    "duplicates": len(chunk),
                }
        assert not b_failures and b_answers[0] > 20
    finally:
        stop.set()
