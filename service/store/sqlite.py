"""The embedded SQLite backend of :class:`~service.store.repository.MarketRepository` (the default).

WAL mode, ``synchronous=FULL``: a write is on disk when it returns. Entity rows are stored as JSON
contract rows; events are rows keyed by ``event_id`` (``INSERT OR IGNORE`` makes ingestion
idempotent). Upserts keep a row's ``rowid`` (``ON CONFLICT DO UPDATE``, not ``INSERT OR REPLACE``),
so an updated worker keeps its place in the stored order.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

import pandas as pd

from service.store.repository import ENTITY_KEYS, EVENT_COLUMNS, check_name, entity_key

SCHEMA = (
    "\n".join(
        f"CREATE TABLE IF NOT EXISTS {table} ({key} TEXT PRIMARY KEY, row TEXT NOT NULL, updated REAL);"
        for table, key in ENTITY_KEYS.items()
    )
    + """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, ts TEXT NOT NULL, job_id TEXT NOT NULL, worker_id TEXT NOT NULL,
    event TEXT NOT NULL, rating REAL, received REAL NOT NULL, position INTEGER, policy TEXT, propensity REAL);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id);
CREATE TABLE IF NOT EXISTS streams (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, row TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS streams_by_name ON streams(stream, seq);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, key TEXT NOT NULL, row TEXT NOT NULL, updated REAL NOT NULL, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL);
"""
)


class SQLiteRepository:
    """A market in one SQLite file (created if missing).

    Parameters
    ----------
    path : str or Path
        The database file.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.url = str(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._migrate()
        self._lock = threading.Lock()  # one connection, shared by the threads of one process

    def _migrate(self) -> None:
        self._db.executescript(SCHEMA)
        for table in ENTITY_KEYS:  # stores written by earlier versions had no `updated` on some tables
            columns = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
            if "updated" not in columns:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN updated REAL")
        # stores written before issue #17 have no logged-feedback columns on events
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(events)")}
        for name, kind in (("position", "INTEGER"), ("policy", "TEXT"), ("propensity", "REAL")):
            if name not in columns:
                self._db.execute(f"ALTER TABLE events ADD COLUMN {name} {kind}")

    def _transaction(self, statements) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            statements()
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def read_rows(self, table: str) -> list[dict]:
        """Every row of an entity table, decoded from JSON, in ``rowid`` (first stored) order."""
        entity_key(table)
        with self._lock:
            return [json.loads(r[0]) for r in self._db.execute(f"SELECT row FROM {table} ORDER BY rowid")]

    def upsert_rows(self, table: str, rows: list[dict]) -> None:
        """Insert or update rows in one transaction; an updated row keeps its ``rowid`` (its place)."""
        key = entity_key(table)
        now = time.time()
        payload = [(r[key], json.dumps(r, ensure_ascii=False, default=str), now) for r in rows]
        sql = (
            f"INSERT INTO {table} ({key}, row, updated) VALUES (?, ?, ?) ON CONFLICT({key}) DO UPDATE "
            "SET row = excluded.row, updated = excluded.updated"
        )
        with self._lock:
            self._transaction(lambda: self._db.executemany(sql, payload))

    def delete_row(self, table: str, key: str) -> bool:
        """Delete the row with this key (one autocommitted statement); whether one existed."""
        column = entity_key(table)
        with self._lock:
            return self._db.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,)).rowcount > 0

    def add_events(self, rows: list[tuple]) -> int:
        """``INSERT OR IGNORE`` the events in one transaction, stamped ``received`` now; returns how many
        were new (event ids already stored are skipped)."""
        now = time.time()
        with self._lock:
            before = self._db.total_changes
            self._transaction(
                lambda: self._db.executemany(
                    f"INSERT OR IGNORE INTO events ({', '.join(EVENT_COLUMNS)}, received) "
                    f"VALUES ({', '.join('?' * (len(EVENT_COLUMNS) + 1))})",
                    [(*r, now) for r in rows],
                )
            )
            return self._db.total_changes - before

    def read_events(self) -> pd.DataFrame:
        """The event log in ``rowid`` (acceptance) order: :data:`EVENT_COLUMNS`, ``""`` where missing."""
        with self._lock:
            frame = pd.read_sql_query(
                f"SELECT {', '.join(EVENT_COLUMNS)} FROM events ORDER BY rowid", self._db
            )
        return frame.astype(object).where(frame.notna(), "")

    def counts(self) -> dict[str, int]:
        """``COUNT(*)`` of the workers, jobs, employers and events tables."""
        with self._lock:
            return {
                t: self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("workers", "jobs", "employers", "events")
            }

    def append(self, stream: str, rows: list[dict]) -> list[int]:
        """Append JSON rows to a stream in one transaction; returns their ``AUTOINCREMENT`` sequences."""
        check_name(stream)
        now = time.time()
        texts = [json.dumps(r, ensure_ascii=False, default=str) for r in rows]
        seqs: list[int] = []

        def write() -> None:
            for text in texts:
                cur = self._db.execute(
                    "INSERT INTO streams (stream, row, created) VALUES (?, ?, ?)", (stream, text, now)
                )
                seqs.append(int(cur.lastrowid))

        with self._lock:
            self._transaction(write)
        return seqs

    def read_stream(self, stream: str, after: int = 0, limit: int = 1000) -> list[tuple[int, dict]]:
        """Up to ``limit`` ``(seq, row)`` pairs of a stream with ``seq > after``, in sequence order."""
        check_name(stream)
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, row FROM streams WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?",
                (stream, int(after), int(limit)),
            ).fetchall()
        return [(int(seq), json.loads(row)) for seq, row in rows]

    def put_records(self, kind: str, records: dict[str, dict]) -> None:
        """Upsert ``{key: document}`` of one kind as JSON in one transaction."""
        check_name(kind)
        now = time.time()
        payload = [
            (kind, str(k), json.dumps(v, ensure_ascii=False, default=str), now) for k, v in records.items()
        ]
        sql = (
            "INSERT INTO records (kind, key, row, updated) VALUES (?, ?, ?, ?) ON CONFLICT(kind, key) "
            "DO UPDATE SET row = excluded.row, updated = excluded.updated"
        )
        with self._lock:
            self._transaction(lambda: self._db.executemany(sql, payload))

    def read_records(self, kind: str) -> dict[str, dict]:
        """Every document of one kind, by key, in ``rowid`` (first stored) order."""
        check_name(kind)
        with self._lock:
            rows = self._db.execute(
                "SELECT key, row FROM records WHERE kind = ? ORDER BY rowid", (kind,)
            ).fetchall()
        return {k: json.loads(r) for k, r in rows}

    def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take or renew lease ``name`` for ``holder`` until now + ``ttl_s`` seconds, in one atomic upsert;
        False when another holder has it and it has not expired."""
        check_name(name)
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE "
                "SET holder = excluded.holder, expires = excluded.expires "
                "WHERE leases.holder = excluded.holder OR leases.expires < ?",
                (name, holder, now + ttl_s, now),
            )
            return cur.rowcount > 0

    def close(self) -> None:
        """Close the SQLite connection (waiting for a running call); the repository is unusable after."""
        with self._lock:
            self._db.close()
