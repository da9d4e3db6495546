"""The embedded store: SQLite (WAL) as the source of truth, encoded arrays as a derived cache.

Workers, jobs and employers are kept as contract rows (JSON, the CSV string form) so every write goes
through :func:`gigmatch.contract.validate_table` exactly like a file would. Events are rows with
``event_id`` as primary key: ``INSERT OR IGNORE`` makes ingestion idempotent, and a batch is committed
(``synchronous=FULL``) before it is acknowledged.

Reads use an in-memory snapshot (encoded :class:`~features.encode.WorkerTable`,
:class:`~features.encode.JobTable`, :class:`~features.history.WorkerHistory`, spatial indexes),
rebuilt lazily after writes. A snapshot is immutable, so requests never see half an update.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.encode import JobTable, WorkerTable, encode_jobs, encode_workers, trade_median_wages
from features.history import WorkerHistory
from gigmatch.contract import Market, _serialise, validate_table
from matcher.retrieval import GeoIndex

SCHEMA = """
CREATE TABLE IF NOT EXISTS workers (worker_id TEXT PRIMARY KEY, row TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, row TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS employers (employer_id TEXT PRIMARY KEY, row TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, ts TEXT NOT NULL, job_id TEXT NOT NULL, worker_id TEXT NOT NULL,
    event TEXT NOT NULL, rating REAL, received REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id);
"""


@dataclass(frozen=True)
class Snapshot:
    workers: WorkerTable
    jobs: JobTable
    history: WorkerHistory
    worker_index: GeoIndex
    job_index: GeoIndex
    job_open: np.ndarray  # (n_jobs,) bool: not filled and not started yet
    median_wages: dict
    employers: pd.DataFrame
    built_at: float
    job_row: dict  # job_id -> row in ``jobs``
    worker_row: dict  # worker_id -> row in ``workers``


class Store:
    """Thread-safe store over one SQLite connection (writes are serialised by SQLite anyway)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._snapshot: Snapshot | None = None
        self._dirty = True

    # ---- writes --------------------------------------------------------------------------------
    def _upsert_rows(self, table: str, key: str, frame: pd.DataFrame) -> None:
        rows = _serialise(frame, table).astype(object).where(lambda d: d.notna(), None)
        now = time.time()
        # Every column is kept, empty ones as "": a missing key would read back as NaN, and the
        # contract refuses a missing required list (skills) where it accepts an empty one.
        payload = [
            (r[key], json.dumps({k: ("" if v is None else v) for k, v in r.items()}, default=str), now)
            for r in rows.to_dict("records")
        ]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if table == "employers":
                    self._db.executemany(
                        f"INSERT OR REPLACE INTO {table} VALUES (?, ?)", [p[:2] for p in payload]
                    )
                else:
                    self._db.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?, ?)", payload)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._dirty = True

    def seed(self, market: Market) -> None:
        """Load a validated market into the store (used when the store is empty)."""
        self._upsert_rows("workers", "worker_id", market.workers)
        self._upsert_rows("jobs", "job_id", market.jobs)
        if len(market.employers):
            self._upsert_rows("employers", "employer_id", market.employers)
        if len(market.events):
            self.add_events(market.events)

    def upsert_worker(self, row: dict) -> None:
        self._upsert_rows(
            "workers", "worker_id", validate_table(pd.DataFrame([row]), "workers", source="worker")
        )

    def upsert_job(self, row: dict) -> None:
        self._upsert_rows("jobs", "job_id", validate_table(pd.DataFrame([row]), "jobs", source="job"))

    def delete(self, table: str, key: str, value: str) -> bool:
        with self._lock:
            cur = self._db.execute(f"DELETE FROM {table} WHERE {key} = ?", (value,))
            self._dirty = True
            return cur.rowcount > 0

    def add_events(self, events: pd.DataFrame) -> tuple[int, int]:
        """Insert validated events; returns (accepted, duplicates). Committed before returning."""
        now = time.time()
        rows = [
            (e, ts.isoformat(), j, w, ev, None if r != r else float(r), now)
            for e, ts, j, w, ev, r in zip(
                events["event_id"],
                events["ts"],
                events["job_id"],
                events["worker_id"],
                events["event"],
                events["rating"],
                strict=True,
            )
        ]
        with self._lock:
            before = self._db.total_changes
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            accepted = self._db.total_changes - before
            if accepted:
                self._dirty = True
        return accepted, len(rows) - accepted

    # ---- reads ---------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                t: self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("workers", "jobs", "employers", "events")
            }

    def exists(self, table: str, key: str, value: str) -> bool:
        with self._lock:
            return self._db.execute(f"SELECT 1 FROM {table} WHERE {key} = ?", (value,)).fetchone() is not None

    def event_ids(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT event_id FROM events")}

    def _frame(self, table: str) -> pd.DataFrame:
        with self._lock:
            rows = [json.loads(r[0]) for r in self._db.execute(f"SELECT row FROM {table}")]
        return validate_table(pd.DataFrame(rows), table) if rows else None

    def market(self) -> Market:
        workers = self._frame("workers")
        jobs = self._frame("jobs")
        with self._lock:
            ev = pd.read_sql_query(
                "SELECT ts, job_id, worker_id, event, rating, event_id FROM events", self._db
            )
        market = Market(
            workers=workers
            if workers is not None
            else validate_table(
                pd.DataFrame({c: [] for c in ("worker_id", "lat", "lon", "skills")}), "workers"
            ),
            jobs=jobs
            if jobs is not None
            else validate_table(pd.DataFrame({c: [] for c in ("job_id", "trade", "lat", "lon")}), "jobs"),
        )
        emp = self._frame("employers")
        if emp is not None:
            market.employers = emp
        if len(ev):
            market.events = validate_table(ev, "events")
        return market

    def snapshot(self) -> Snapshot:
        """The current read snapshot, rebuilt if anything was written since the last one."""
        with self._lock:
            if self._snapshot is None or self._dirty:
                self._dirty = False
                self._snapshot = self._build()
            return self._snapshot

    def _build(self) -> Snapshot:
        m = self.market()
        W = encode_workers(m.workers)
        medians = trade_median_wages(m.jobs)
        J = encode_jobs(m.jobs, W, m.employers, median_wages=medians)
        H = WorkerHistory(m.events, W.ids)
        hired = m.events[m.events["event"] == "hired"].groupby("job_id")["worker_id"].nunique()
        n_hired = hired.reindex(J.ids).fillna(0).to_numpy()
        now = time.time()
        started = np.nan_to_num(J.start_s, nan=np.inf) <= now
        job_open = (n_hired < J.headcount) & ~started & ~J.employer_blacklisted
        return Snapshot(
            W,
            J,
            H,
            GeoIndex(W.lat, W.lon),
            GeoIndex(J.lat, J.lon),
            job_open,
            medians,
            m.employers,
            now,
            job_row={j: i for i, j in enumerate(J.ids)},
            worker_row={w: i for i, w in enumerate(W.ids)},
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()
