"""The embedded store: SQLite (WAL) as the source of truth, encoded arrays as a derived cache.

Workers, jobs and employers are kept as contract rows (JSON, the CSV string form) so every write goes
through :func:`gigmatch.core.contract.validate_table` exactly like a file would. Events are rows with
``event_id`` as primary key: ``INSERT OR IGNORE`` makes ingestion idempotent, and a batch is committed
(``synchronous=FULL``) before it is acknowledged.

Reads use an in-memory snapshot (encoded :class:`~features.encode.WorkerTable`,
:class:`~features.encode.JobTable`, :class:`~features.history.WorkerHistory`, spatial indexes). A
snapshot is immutable and swapped atomically, so a read never waits and never sees half an update:

- a worker, job or employer write rebuilds the snapshot before the write returns, so the next
  request sees it (a deleted or changed job is never served stale);
- events only change the history and which jobs are filled: the validated events are also kept in
  memory, and a background thread rebuilds that part at most every ``events_refresh_s`` (default
  2 s), so event-derived features may lag ingestion by up to that long while ingestion stays cheap.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from features.encode import JobTable, WorkerTable, encode_jobs, encode_workers
from features.history import WorkerHistory
from features.market import MarketStats
from gigmatch.core.contract import VOCABULARY_TABLES, Market, empty_table, serialise_table, validate_table
from gigmatch.core.taxonomy import Taxonomy, default_taxonomy
from gigmatch.core.times import market_now
from matcher.retrieval import GeoIndex

SCHEMA = """
CREATE TABLE IF NOT EXISTS workers (worker_id TEXT PRIMARY KEY, row TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, row TEXT NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS employers (employer_id TEXT PRIMARY KEY, row TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trades (trade TEXT PRIMARY KEY, row TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS certificates (certificate TEXT PRIMARY KEY, row TEXT NOT NULL);
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
    job_hired: np.ndarray  # (n_jobs,) distinct workers hired so far
    stats: MarketStats  # point-in-time market statistics over the stored jobs
    taxonomy: Taxonomy  # the market's vocabulary (its own, seeded with it, or the built-in one)
    employers: pd.DataFrame
    built_at: float
    job_row: dict  # job_id -> row in ``jobs``
    worker_row: dict  # worker_id -> row in ``workers``


class Store:
    """Thread-safe store over one SQLite connection (writes are serialised by SQLite anyway)."""

    def __init__(self, path: str | Path, events_refresh_s: float = 2.0):
        self.path = Path(path)
        self.events_refresh_s = events_refresh_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()  # the SQLite connection and the in-memory event list
        self._build_lock = threading.Lock()  # one snapshot build at a time; readers never take it
        self._snapshot: Snapshot | None = None
        self._events_dirty = threading.Event()
        self._events: list[pd.DataFrame] | None = None  # validated events in memory (None: not loaded)
        self._event_ids: set[str] = set()
        self._pending: list[pd.DataFrame] = []  # events accepted since the snapshot last saw events
        # validated entity tables as a restart would read them back (None: no rows); a table is
        # read from SQLite once, then writes update it here too, so a PUT does not re-read them all
        self._tables: dict[str, pd.DataFrame | None] = {}
        self._hired: set[tuple[str, str]] = set()  # (job_id, worker_id) hired pairs in the snapshot
        self._taxonomy: Taxonomy | None = None
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None

    # ---- writes --------------------------------------------------------------------------------
    def _upsert_rows(self, table: str, key: str, frame: pd.DataFrame, rebuild: bool = True) -> None:
        rows = serialise_table(frame, table).astype(object).where(lambda d: d.notna(), None)
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
                # an upsert, not INSERT OR REPLACE: a replaced row keeps its rowid, so the stored
                # order (and with it every worker's index in the snapshot) survives updates
                if table in ("employers", *VOCABULARY_TABLES):
                    self._db.executemany(
                        f"INSERT INTO {table} VALUES (?, ?) ON CONFLICT({key}) DO UPDATE SET row = excluded.row",
                        [p[:2] for p in payload],
                    )
                else:
                    self._db.executemany(
                        f"INSERT INTO {table} VALUES (?, ?, ?) ON CONFLICT({key}) DO UPDATE "
                        "SET row = excluded.row, updated = excluded.updated",
                        payload,
                    )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            if table in self._tables:
                # the rows exactly as a restart would parse them back from their JSON
                rows_back = pd.DataFrame([json.loads(p[1]) for p in payload])
                fresh = validate_table(rows_back, table, taxonomy=self.taxonomy)
                old = self._tables[table]
                if old is not None:  # replaced rows in place, new rows last: the rowid order
                    at = pd.Index(old[key]).get_indexer(fresh[key])
                    order = np.arange(len(old))
                    order[at[at >= 0]] = len(old) + np.flatnonzero(at >= 0)
                    order = np.r_[order, len(old) + np.flatnonzero(at < 0)]
                    fresh = pd.concat([old, fresh], ignore_index=True).iloc[order].reset_index(drop=True)
                self._tables[table] = fresh
        if rebuild:
            self.rebuild()

    def seed(self, market: Market) -> None:
        """Load a validated market into the store (used when the store is empty), with its vocabulary
        when it has its own."""
        if not market.taxonomy.is_built_in:
            trades, certs = market.taxonomy.to_frames()
            self._upsert_rows("certificates", "certificate", certs, rebuild=False)
            self._upsert_rows("trades", "trade", trades, rebuild=False)
            self._taxonomy = None  # read back from the rows just stored
        self._upsert_rows("workers", "worker_id", market.workers, rebuild=False)
        self._upsert_rows("jobs", "job_id", market.jobs, rebuild=False)
        if len(market.employers):
            self._upsert_rows("employers", "employer_id", market.employers, rebuild=False)
        if len(market.events):
            self.add_events(market.events)
        self.rebuild()

    @property
    def taxonomy(self) -> Taxonomy:
        """The market's vocabulary: the stored ``trades``/``certificates`` rows, else the built-in one."""
        if self._taxonomy is None:
            with self._lock:
                rows = {
                    t: [json.loads(r[0]) for r in self._db.execute(f"SELECT row FROM {t} ORDER BY rowid")]
                    for t in VOCABULARY_TABLES
                }
            if any(rows.values()):
                empty = Taxonomy([], [], source="empty")
                frames = {
                    t: validate_table(pd.DataFrame(r), t, taxonomy=empty) if r else None
                    for t, r in rows.items()
                }
                self._taxonomy = Taxonomy.from_frames(
                    frames["trades"], frames["certificates"], source="market"
                )
            else:
                self._taxonomy = default_taxonomy()
        return self._taxonomy

    def upsert_worker(self, row: dict) -> None:
        worker = validate_table(pd.DataFrame([row]), "workers", source="worker", taxonomy=self.taxonomy)
        self._upsert_rows("workers", "worker_id", worker)

    def upsert_job(self, row: dict) -> None:
        """Store a job; one without ``posted_at`` is posted now (or when it was first stored), so that
        it counts in the market statistics from now on."""
        job = validate_table(pd.DataFrame([row]), "jobs", source="job", taxonomy=self.taxonomy)
        if pd.isna(job.loc[0, "posted_at"]):
            known = self._frame("jobs")
            old = known[known["job_id"] == job.loc[0, "job_id"]] if known is not None else known
            first = old["posted_at"].iloc[0] if old is not None and len(old) else pd.NaT
            job.loc[0, "posted_at"] = (
                first if not pd.isna(first) else pd.Timestamp(market_now(), unit="s").floor("s")
            )
        self._upsert_rows("jobs", "job_id", job)

    def delete(self, table: str, key: str, value: str) -> bool:
        with self._lock:
            found = self._db.execute(f"DELETE FROM {table} WHERE {key} = ?", (value,)).rowcount > 0
            old = self._tables.get(table)
            if found and old is not None:
                rest = old[old[key] != value].reset_index(drop=True)
                self._tables[table] = rest if len(rest) else None
        if found:
            self.rebuild()
        return found

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
            if accepted and self._events is not None:
                seen = self._event_ids  # O(batch) membership; Series.isin(set) would convert the whole set
                fresh = events[np.fromiter((e not in seen for e in events["event_id"]), bool, len(events))]
                self._events.append(fresh)
                self._pending.append(fresh)
                self._event_ids.update(fresh["event_id"])
                self._events_dirty.set()
        return accepted, len(rows) - accepted

    # ---- reads ---------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                t: self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("workers", "jobs", "employers", "events")
            }

    def _frame(self, table: str) -> pd.DataFrame | None:
        with self._lock:
            if table not in self._tables:
                rows = [json.loads(r[0]) for r in self._db.execute(f"SELECT row FROM {table} ORDER BY rowid")]
                frame = validate_table(pd.DataFrame(rows), table, taxonomy=self.taxonomy) if rows else None
                self._tables[table] = frame
            return self._tables[table]

    def _event_frames(self) -> list[pd.DataFrame]:
        """The validated event log as frames in arrival order; read from SQLite once, then kept in
        memory. Call with ``_lock`` held."""
        if self._events is None:
            ev = pd.read_sql_query(
                "SELECT ts, job_id, worker_id, event, rating, event_id FROM events", self._db
            )
            frame = validate_table(ev.astype(object).where(ev.notna(), ""), "events") if len(ev) else None
            self._events = [frame] if frame is not None else []
            self._event_ids = set(frame["event_id"]) if frame is not None else set()
        return self._events

    def _events_frame(self) -> pd.DataFrame:
        """All events as one frame (the in-memory list is compacted to it). Call with ``_lock`` held."""
        self._events = [_concat_events(self._event_frames())]
        return self._events[0]

    def market(self, events: bool = True) -> Market:
        """The stored market (validated tables); ``events=False`` leaves the event log empty.

        The frames are the store's own in-memory tables: read them, do not modify them in place.
        """
        workers = self._frame("workers")
        jobs = self._frame("jobs")
        market = Market(
            workers=workers if workers is not None else empty_table("workers"),
            jobs=jobs if jobs is not None else empty_table("jobs"),
            taxonomy=self.taxonomy,
        )
        emp = self._frame("employers")
        if emp is not None:
            market.employers = emp
        if events:
            with self._lock:
                market.events = self._events_frame()
        return market

    def snapshot(self) -> Snapshot:
        """The current read snapshot (never blocks once the first one exists)."""
        snap = self._snapshot
        return snap if snap is not None else self.rebuild()

    def rebuild(self) -> Snapshot:
        """Rebuild everything from the store now (after entity writes) and swap it in."""
        with self._build_lock:
            self._events_dirty.clear()
            with self._lock:  # one critical section: an event is either in `log` or in a later pending
                pending, self._pending = self._pending, []
                log = list(self._event_frames())  # joined only if the build needs the whole log
            self._snapshot = self._build(self._snapshot, pending, log)
            return self._snapshot

    def refresh_events(self) -> None:
        """Apply the events accepted since the last refresh or rebuild to the snapshot, if any.

        Incremental: only the new events are parsed and merged into the history (a few ms at 100k
        logged events, where re-deriving everything took ~70 ms with the GIL held).
        """
        if not self._events_dirty.is_set() or self._snapshot is None:
            return
        with self._build_lock:
            self._events_dirty.clear()
            with self._lock:
                pending, self._pending = self._pending, []
            if pending:
                self._snapshot = self._with_new_events(self._snapshot, _concat_events(pending))

    def start_refresher(self) -> None:
        """A daemon thread applying ingested events to the snapshot every ``events_refresh_s``."""
        if self._refresher is not None:
            return

        def loop():
            while not self._stop.wait(self.events_refresh_s):
                try:
                    self.refresh_events()
                except Exception:  # keep serving the last good snapshot; the next tick retries
                    logging.getLogger("gigmatch.store").exception("event refresh failed")

        self._refresher = threading.Thread(target=loop, name="gigmatch-events-refresh", daemon=True)
        self._refresher.start()

    def _build(
        self, previous: Snapshot | None, pending: list[pd.DataFrame], log: list[pd.DataFrame]
    ) -> Snapshot:
        """A snapshot of the stored entities; event state from ``previous`` when it still fits.

        When the previous worker order is unchanged or only extended (a job or employer write, an
        update of a known worker, which keeps its row; a new worker, appended) the previous history is
        kept, new workers' logged events are merged in, and ``pending`` (the events accepted since the
        previous snapshot, the tail of ``log``) is applied incrementally; otherwise (a worker deleted)
        the history is derived from the whole ``log``.
        """
        m = self.market(events=False)
        W = encode_workers(m.workers, m.taxonomy)
        stats = MarketStats.from_jobs(m.jobs)
        J = encode_jobs(m.jobs, W, m.employers, stats=stats, taxonomy=m.taxonomy)
        base = Snapshot(
            W,
            J,
            WorkerHistory.empty(W.ids),
            GeoIndex(W.lat, W.lon),
            GeoIndex(J.lat, J.lon),
            np.zeros(len(J), dtype=bool),
            np.zeros(len(J), dtype=np.int64),
            stats,
            m.taxonomy,
            m.employers,
            time.time(),
            job_row={j: i for i, j in enumerate(J.ids)},
            worker_row={w: i for i, w in enumerate(W.ids)},
        )
        n_old = len(previous.workers.ids) if previous is not None else -1
        if 0 <= n_old <= len(W.ids) and np.array_equal(previous.workers.ids, W.ids[:n_old]):
            history = previous.history
            if len(W.ids) > n_old:  # new workers were appended: add their events logged so far
                events = _concat_events(log)
                logged = events.iloc[: len(events) - sum(len(p) for p in pending)]
                theirs = logged[logged["worker_id"].isin(W.ids[n_old:])]
                history = history.extended(theirs, worker_ids=W.ids)
            snap = self._with_history(base, history, self._hired_per_job(J.ids))
            if pending:
                snap = self._with_new_events(snap, _concat_events(pending))
            return snap
        return self._with_events(base, _concat_events(log))

    def _with_events(self, snap: Snapshot, events: pd.DataFrame) -> Snapshot:
        """The snapshot with history and open jobs derived from all ``events`` (entities unchanged)."""
        hired = events.loc[events["event"] == "hired", ["job_id", "worker_id"]]
        self._hired = set(zip(hired["job_id"], hired["worker_id"], strict=True))
        return self._with_history(
            snap, WorkerHistory(events, snap.workers.ids), self._hired_per_job(snap.jobs.ids)
        )

    def _hired_per_job(self, job_ids: np.ndarray) -> np.ndarray:
        """Distinct workers hired per job, shape (n_jobs,), from the hired pairs seen so far."""
        counts = pd.Series([job_id for job_id, _ in self._hired], dtype=object).value_counts()
        return counts.reindex(job_ids).fillna(0).to_numpy(dtype=np.int64)

    def _with_new_events(self, snap: Snapshot, events: pd.DataFrame) -> Snapshot:
        """:meth:`_with_events` for events logged after the snapshot's, applied incrementally."""
        job_hired = snap.job_hired.copy()
        hired = events.loc[events["event"] == "hired", ["job_id", "worker_id"]]
        for pair in zip(hired["job_id"], hired["worker_id"], strict=True):
            if pair not in self._hired:  # a re-hire of the same worker is not another filled slot
                self._hired.add(pair)
                row = snap.job_row.get(pair[0])
                if row is not None:
                    job_hired[row] += 1
        return self._with_history(snap, snap.history.extended(events), job_hired)

    @staticmethod
    def _with_history(snap: Snapshot, history: WorkerHistory, job_hired: np.ndarray) -> Snapshot:
        J = snap.jobs
        now = time.time()
        started = np.nan_to_num(J.start_s, nan=np.inf) <= market_now()
        job_open = (job_hired < J.headcount) & ~started & ~J.employer_blacklisted
        return replace(snap, history=history, job_open=job_open, job_hired=job_hired, built_at=now)

    def close(self) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(5)
        with self._lock:
            self._db.close()


def _concat_events(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """One events frame from a list of them (the empty table for none)."""
    if not frames:
        return empty_table("events")
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
