import hashlib
import sqlite3
import threading
import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from gigmatch.core.contract import load_market, validate_table
from service.store import Store
from service.store.migrations import SchemaTooNew
from service.store.repository import MarketRepository
from service.store.sqlite import SQLiteRepository
from tests.helpers import make_market

SOON = (datetime.now() + timedelta(days=2)).replace(microsecond=0).isoformat()


def events(rows):
    return validate_table(
        pd.DataFrame(rows, columns=["ts", "job_id", "worker_id", "event", "event_id"]), "events"
    )


class StoreContract:
    """Tests every store backend must pass (the implicit-style shared mixin): a backend's test class
    sets :meth:`repository`, a repository over a location derived from ``tmp_path`` (the same path
    reopens the same data). The repository methods are checked directly first, then the store over
    them: visibility of writes, incremental event state equal to a rebuild, writes equal to what a
    restart reads, and events racing with rebuilds counted once.
    """

    def repository(self, tmp_path) -> MarketRepository:
        raise NotImplementedError

    def store(self, tmp_path) -> Store:
        return Store(self.repository(tmp_path))

    def test_repository_keeps_order_replaces_in_place_and_refuses_unknown_tables(self, tmp_path):
        repo = self.repository(tmp_path)
        assert isinstance(repo, MarketRepository)
        repo.upsert_rows("workers", [{"worker_id": k, "lat": "1"} for k in ("b", "a", "c")])
        repo.upsert_rows("workers", [{"worker_id": "a", "lat": "2"}, {"worker_id": "d", "lat": "3"}])
        rows = repo.read_rows("workers")
        assert [r["worker_id"] for r in rows] == ["b", "a", "c", "d"] and rows[1]["lat"] == "2"
        assert repo.delete_row("workers", "c") and not repo.delete_row("workers", "c")
        for bad in ("workers; DROP TABLE workers", "events", "sqlite_master"):
            with pytest.raises(ValueError, match="unknown entity table"):
                repo.read_rows(bad)
        repo.close()
        again = self.repository(tmp_path)  # durable
        assert [r["worker_id"] for r in again.read_rows("workers")] == ["b", "a", "d"]
        again.close()

    def test_repository_events_are_idempotent_and_ordered(self, tmp_path):
        repo = self.repository(tmp_path)
        rows = [
            (f"e{i}", f"2026-10-0{i + 1}T08:00:00", "j", "w", "rated" if i else "shown", 4.0 if i else None)
            + ((3, "v1", 0.25) if i == 0 else (None, None, None))  # position, policy, propensity (#17)
            for i in range(3)
        ]
        assert repo.add_events(rows[:2]) == 2
        assert repo.add_events(rows) == 1  # e0 and e1 are stored already
        frame = repo.read_events()
        assert frame["event_id"].tolist() == ["e0", "e1", "e2"]
        assert frame["rating"].tolist()[0] == "" and float(frame["rating"].tolist()[1]) == 4.0
        assert int(float(frame["position"][0])) == 3 and frame["policy"][0] == "v1"
        assert float(frame["propensity"][0]) == 0.25 and frame["position"][1] == frame["policy"][1] == ""
        validated = validate_table(frame, "events")  # what the store reads back validates
        assert validated["position"][0] == 3 and np.isnan(validated["propensity"][1])
        assert repo.counts()["events"] == 3
        repo.close()

    def test_repository_streams_records_and_leases(self, tmp_path):
        repo = self.repository(tmp_path)
        first = repo.append("answers", [{"n": 1}, {"n": 2}])
        other = repo.append("offers", [{"n": 99}])
        third = repo.append("answers", [{"n": 3, "text": "事事有回音"}])
        assert first[0] < first[1] < third[0] and len(other) == 1
        assert [r["n"] for _, r in repo.read_stream("answers")] == [1, 2, 3]
        page = repo.read_stream("answers", after=first[0], limit=1)
        assert page == [(first[1], {"n": 2})]
        assert repo.read_stream("answers", after=third[0]) == []
        repo.put_records("cases", {"w1": {"status": "open"}, "w2": {"status": "open"}})
        repo.put_records("cases", {"w1": {"status": "closed"}})
        assert repo.read_records("cases") == {"w1": {"status": "closed"}, "w2": {"status": "open"}}
        assert repo.read_records("offers") == {}
        assert repo.acquire_lease("answer_loop", "a", ttl_s=60)
        assert repo.acquire_lease("answer_loop", "a", ttl_s=60)  # renewed by its holder
        assert not repo.acquire_lease("answer_loop", "b", ttl_s=60)  # held by another
        assert repo.acquire_lease("expired", "a", ttl_s=-1) and repo.acquire_lease("expired", "b", ttl_s=60)
        for bad in ("Answers", "a b", "x;drop", ""):
            with pytest.raises(ValueError, match="invalid"):
                repo.append(bad, [{}])
        repo.close()
        again = self.repository(tmp_path)
        assert [r["text"] for _, r in again.read_stream("answers", after=first[1])] == ["事事有回音"]
        again.close()

    def test_writes_are_visible_and_events_reach_features_on_refresh(self, tmp_path):
        market = make_market(
            [{"worker_id": f"w{i}", "lat": 26.7, "lon": 117.4, "skills": "moving"} for i in range(3)],
            [
                {
                    "job_id": "j",
                    "trade": "moving",
                    "lat": 26.7,
                    "lon": 117.4,
                    "headcount": 2,
                    "start_time": SOON,
                }
            ],
        )
        store = self.store(tmp_path)
        store.seed(market)
        snap = store.snapshot()
        assert snap.job_open.tolist() == [True]
        hires = events([(SOON[:10] + "T00:00:00", "j", f"w{i}", "hired", f"h{i}") for i in range(2)])
        assert store.add_events(hires) == (2, 0)
        assert store.add_events(hires) == (0, 2)  # idempotent
        assert store.snapshot() is snap  # reads never wait for event processing ...
        store.refresh_events()
        assert store.snapshot().job_open.tolist() == [False]  # ... which then marks the job filled
        store.upsert_worker({"worker_id": "w9", "lat": 26.7, "lon": 117.4, "skills": ""})
        assert "w9" in store.snapshot().worker_row  # entity writes are visible at once
        assert store.delete_job("j")
        assert len(store.snapshot().jobs) == 0
        store.close()
        again = self.store(tmp_path)  # everything was committed
        assert again.counts() == {"workers": 4, "jobs": 0, "employers": 0, "events": 2}
        again.close()

    def test_incremental_event_refresh_equals_a_full_rebuild(self, small_market_dir, tmp_path):
        """Events applied batch by batch give the snapshot a full rebuild gives: history and filled jobs."""
        market = load_market(small_market_dir)
        log = market.events.sort_values("ts", kind="stable").reset_index(drop=True)
        market.events = log.iloc[: len(log) // 2]
        store = self.store(tmp_path)
        store.seed(market)
        rest = log.iloc[len(log) // 2 :]
        hired = rest[rest["event"] == "hired"].iloc[:3]  # re-sent hires under new ids: not counted twice
        rest = pd.concat([rest, hired.assign(event_id=hired["event_id"] + "-again")], ignore_index=True)
        for batch in np.array_split(np.arange(len(rest)), 7):
            store.add_events(rest.iloc[batch])
            store.refresh_events()
        incremental = store.snapshot()
        full = store.rebuild()
        assert incremental.history.n_events == full.history.n_events > 0
        for name in ("_keys", "_cum", "_last_act", "_first", "_base"):
            assert np.array_equal(getattr(incremental.history, name), getattr(full.history, name)), name
        assert np.array_equal(incremental.job_hired, full.job_hired) and full.job_hired.sum() > 0
        assert np.array_equal(incremental.job_open, full.job_open)
        store.close()

    def assert_same_as_a_fresh_store(self, store: Store, tmp_path) -> None:
        """The live snapshot equals the one a new Store over the same file derives from scratch."""
        store.refresh_events()
        live = store.snapshot()
        again = self.store(tmp_path)
        fresh = again.snapshot()
        for table in ("workers", "jobs"):
            pd.testing.assert_frame_equal(store._frame(table), again._frame(table), obj=table)
        assert list(live.workers.ids) == list(fresh.workers.ids)
        assert list(live.jobs.ids) == list(fresh.jobs.ids)
        for name in ("lat", "lon", "max_travel_km", "rating_count"):
            assert np.array_equal(getattr(live.workers, name), getattr(fresh.workers, name), equal_nan=True)
        for name in ("_keys", "_cum", "_last_act", "_first", "_base"):
            assert np.array_equal(getattr(live.history, name), getattr(fresh.history, name)), name
        assert np.array_equal(live.job_hired, fresh.job_hired)
        assert np.array_equal(live.job_open, fresh.job_open)
        again.close()

    def test_entity_writes_update_memory_exactly_as_a_restart_reads_them(self, small_market_dir, tmp_path):
        """PUT and DELETE patch the in-memory tables and keep (or extend) the history; after each kind of
        write a fresh Store over the same file, which reads and derives everything again, agrees."""
        market = load_market(small_market_dir)
        log = market.events.sort_values("ts", kind="stable").reset_index(drop=True)
        market.events = log.iloc[: len(log) // 2]
        store = self.store(tmp_path)
        store.seed(market)
        w0, w1 = market.workers["worker_id"].iloc[:2]
        j0, j1 = market.jobs["job_id"].iloc[:2]
        rest = log.iloc[len(log) // 2 :]
        store.add_events(rest.iloc[:300])  # pending when the next write rebuilds: applied incrementally
        store.upsert_worker({"worker_id": w0, "lat": 26.61, "lon": 117.41, "skills": "moving:3"})  # update
        assert store.snapshot().workers.ids[0] == w0  # an update keeps the worker's place
        store.upsert_job(
            {"job_id": j0, "trade": "moving", "lat": 26.6, "lon": 117.4, "headcount": 3, "start_time": SOON}
        )
        self.assert_same_as_a_fresh_store(store, tmp_path)
        store.add_events(rest.iloc[300:600])
        store.refresh_events()
        assert store.delete_job(j1)
        assert j1 not in store.snapshot().job_row
        # events about a worker who registers later: some already applied (ignored while unknown), some
        # pending when the registration arrives; each must count once when the worker appears
        early = events([(f"2026-10-0{d}T10:00:00", j0, "w-new", "shown", f"early-{d}") for d in (1, 2)])
        store.add_events(early)
        store.refresh_events()
        store.add_events(events([("2026-10-03T10:00:00", j0, "w-new", "applied", "early-3")]))
        store.add_events(rest.iloc[600:650])
        store.upsert_worker({"worker_id": "w-new", "lat": 26.7, "lon": 117.5, "skills": ""})  # appended
        self.assert_same_as_a_fresh_store(store, tmp_path)
        assert store.delete_worker(w1)
        assert w1 not in store.snapshot().worker_row
        store.add_events(rest.iloc[650:900])
        store.upsert_job(
            {"job_id": "j-new", "trade": "welding", "lat": 26.6, "lon": 117.4, "start_time": SOON}
        )
        self.assert_same_as_a_fresh_store(store, tmp_path)
        store.close()

    def test_events_racing_with_rebuilds_are_counted_once(self, small_market_dir, tmp_path):
        """Events posted from another thread while writes rebuild the snapshot: each lands in the
        history exactly once (either in the rebuild's log or in a later incremental refresh)."""
        market = load_market(small_market_dir)
        log = market.events.sort_values("ts", kind="stable").reset_index(drop=True)
        market.events = log.iloc[:100]
        store = self.store(tmp_path)
        store.seed(market)
        rest = log.iloc[100:]
        done = threading.Event()

        def post():
            for batch in np.array_split(np.arange(len(rest)), 400):
                store.add_events(rest.iloc[batch])
            done.set()

        poster = threading.Thread(target=post)
        poster.start()
        i = 0
        while not done.is_set():  # new workers: each write re-derives the history from the whole log
            store.upsert_worker({"worker_id": f"w-race-{i}", "lat": 26.7, "lon": 117.4, "skills": ""})
            store.refresh_events()
            i += 1
        poster.join()
        store.refresh_events()
        live = store.snapshot()
        store.close()
        again = self.store(tmp_path)
        assert i > 1 and live.history.n_events == again.snapshot().history.n_events
        assert np.array_equal(live.history._cum, again.snapshot().history._cum)
        again.close()

    def bump_schema(self, tmp_path, version: int) -> None:
        """Record ``version`` as applied in the store at ``tmp_path`` (as a newer gigmatch would)."""
        raise NotImplementedError

    def test_two_stores_over_one_repository_follow_each_other(self, tmp_path):
        """Replicas: each store applies the other's entity writes and events from the change feed,
        each once, in commit order; the same event ids sent to both are stored once."""
        market = make_market(
            [{"worker_id": f"w{i}", "lat": 26.7, "lon": 117.4, "skills": "moving"} for i in range(3)],
            [
                {
                    "job_id": "j",
                    "trade": "moving",
                    "lat": 26.7,
                    "lon": 117.4,
                    "headcount": 2,
                    "start_time": SOON,
                }
            ],
        )
        a = self.store(tmp_path)
        b = self.store(tmp_path)
        with a.repo.exclusive("seed"):
            a.seed(market)
        assert b.snapshot().workers.ids.tolist() == ["w0", "w1", "w2"]  # b read what a seeded
        a.upsert_worker({"worker_id": "w1", "lat": 26.8, "lon": 117.4, "skills": "welding"})  # update
        a.upsert_worker({"worker_id": "w9", "lat": 26.7, "lon": 117.4, "skills": ""})  # new
        b.delete_job("j")
        assert "w9" in b.snapshot().worker_row  # b's own write applied a's earlier ones first
        assert "j" in a.snapshot().job_row  # a has not followed b's yet
        assert a.sync() and not b.sync()
        for store in (a, b):
            snap = store.snapshot()
            assert snap.workers.ids.tolist() == ["w0", "w1", "w2", "w9"] and len(snap.jobs) == 0
            assert snap.workers.lat[1] == pytest.approx(26.8)
        b.upsert_job({"job_id": "j2", "trade": "moving", "lat": 26.7, "lon": 117.4, "start_time": SOON})
        hires = events([(SOON[:10] + "T00:00:00", "j2", f"w{i}", "hired", f"h{i}") for i in range(2)])
        assert a.add_events(hires.iloc[:1]) == (1, 0)
        assert b.add_events(hires) == (1, 1)  # h0 came through a: a duplicate for b too
        a.sync()
        b.sync()
        for store in (a, b):
            store.refresh_events()
            assert store.snapshot().history.n_events == 2
            assert sorted(store.market().events["event_id"]) == ["h0", "h1"]
            assert store.snapshot().job_hired.tolist() == [2]  # two distinct workers hired
        assert a.counts()["events"] == 2
        a.close()
        b.close()

    def test_the_follower_applies_another_stores_write_within_a_second(self, tmp_path):
        a = self.store(tmp_path)
        b = self.store(tmp_path)
        a.seed(make_market([{"worker_id": "w0", "lat": 26.7, "lon": 117.4, "skills": ""}], []))
        b.snapshot()
        b.start_follower()
        a.upsert_worker({"worker_id": "w1", "lat": 26.7, "lon": 117.4, "skills": ""})
        written = time.monotonic()
        while "w1" not in b.snapshot().worker_row and time.monotonic() - written < 5:
            time.sleep(0.02)
        seen_after = time.monotonic() - written
        a.close()
        b.close()
        assert seen_after < 1.0, f"b served a's write after {seen_after:.2f} s"

    def test_a_newer_schema_is_refused_with_one_line(self, tmp_path):
        self.repository(tmp_path).close()
        self.bump_schema(tmp_path, 999)
        with pytest.raises(
            SchemaTooNew, match=r"schema version 999, newer than this gigmatch knows \(\d+\)"
        ) as err:
            self.repository(tmp_path)
        assert "\n" not in str(err.value)


class TestSQLiteStore(StoreContract):
    def repository(self, tmp_path) -> MarketRepository:
        return SQLiteRepository(tmp_path / "store.db")

    def bump_schema(self, tmp_path, version: int) -> None:
        with sqlite3.connect(tmp_path / "store.db") as db:
            db.execute("INSERT INTO schema_version VALUES (?, 0)", (version,))


def database_for(postgres, tmp_path) -> str:
    """One database per test folder (the same folder reopens the same data)."""
    name = "t_" + hashlib.sha1(str(tmp_path).encode()).hexdigest()[:16]
    return postgres.create_database(name)


class TestPostgresStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _server(self, postgres):
        self.server = postgres

    def repository(self, tmp_path) -> MarketRepository:
        from service.store.postgres import PostgresRepository

        return PostgresRepository(database_for(self.server, tmp_path))

    def bump_schema(self, tmp_path, version: int) -> None:
        import psycopg

        with psycopg.connect(database_for(self.server, tmp_path), autocommit=True) as conn:
            conn.execute("INSERT INTO schema_version VALUES (%s, 0)", (version,))


def test_a_store_from_before_the_feedback_columns_is_migrated(tmp_path):
    """An events table written before issue #17 gains position, policy and propensity; old rows read
    back with them empty."""
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE events (event_id TEXT PRIMARY KEY, ts TEXT NOT NULL, job_id TEXT NOT NULL, "
        "worker_id TEXT NOT NULL, event TEXT NOT NULL, rating REAL, received REAL NOT NULL);"
        "INSERT INTO events VALUES ('e0', '2026-10-01T08:00:00', 'j', 'w', 'shown', NULL, 0);"
    )
    db.commit()
    db.close()
    repo = SQLiteRepository(path)
    repo.add_events([("e1", "2026-10-01T09:00:00", "j", "w2", "shown", None, 2, "v9", 0.5)])
    frame = validate_table(repo.read_events(), "events")
    assert np.isnan(frame["position"][0]) and frame["position"][1] == 2 and frame["policy"][1] == "v9"
    repo.close()
