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

from service.store.repository import ENTITY_KEYS, EVENT_COLUMNS, entity_key

SCHEMA = (
    "\n".join(
        f"CREATE TABLE IF NOT EXISTS {table} ({key} TEXT PRIMARY KEY, row TEXT NOT NULL, updated REAL);"
        for table, key in ENTITY_KEYS.items()
    )
    + """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, ts TEXT NOT NULL, job_id TEXT NOT NULL, worker_id TEXT NOT NULL,
    event TEXT NOT NULL, rating REAL, received REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id);
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

    def _transaction(self, statements) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            statements()
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def read_rows(self, table: str) -> list[dict]:
        entity_key(table)
        with self._lock:
            return [json.loads(r[0]) for r in self._db.execute(f"SELECT row FROM {table} ORDER BY rowid")]

    def upsert_rows(self, table: str, rows: list[dict]) -> None:
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
        column = entity_key(table)
        with self._lock:
            return self._db.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,)).rowcount > 0

    def add_events(self, rows: list[tuple]) -> int:
        now = time.time()
        with self._lock:
            before = self._db.total_changes
            self._transaction(
                lambda: self._db.executemany(
                    "INSERT OR IGNORE INTO events (event_id, ts, job_id, worker_id, event, rating, received) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(*r, now) for r in rows],
                )
            )
            return self._db.total_changes - before

    def read_events(self) -> pd.DataFrame:
        with self._lock:
            frame = pd.read_sql_query(
                f"SELECT {', '.join(EVENT_COLUMNS)} FROM events ORDER BY rowid", self._db
            )
        return frame.astype(object).where(frame.notna(), "")

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                t: self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("workers", "jobs", "employers", "events")
            }

    def close(self) -> None:
        with self._lock:
            self._db.close()
