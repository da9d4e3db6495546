"""The embedded SQLite backend of :class:`~service.store.repository.MarketRepository` (the default).

WAL mode, ``synchronous=FULL``: a write is on disk when it returns. Entity rows are stored as JSON
contract rows; events are rows keyed by ``event_id`` (``INSERT OR IGNORE`` makes ingestion
idempotent). Upserts keep a row's ``rowid`` (``ON CONFLICT DO UPDATE``, not ``INSERT OR REPLACE``),
so an updated worker keeps its place in the stored order.

The schema is migrated at open by the numbered files in ``service/store/migrations/sqlite``; entity
writes append to the ``changes`` feed in the same transaction, so several processes on one machine
may share one file (``gigmatch serve --workers N``): SQLite serialises writers, so rowid order is
commit order and a follower never skips a row.
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from service.store import migrations
from service.store.repository import ENTITY_KEYS, EVENT_COLUMNS, check_name, entity_key


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
        self._db.execute("PRAGMA busy_timeout=30000")  # other processes over the same file
        self._lock = threading.Lock()  # one connection, shared by the threads of one process
        with self.exclusive("migrate"):
            self._migrate()

    def _migrate(self) -> None:
        """Apply the migrations this file lacks, in one transaction."""
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied REAL)"
        )
        steps = migrations.plan("sqlite", self.schema_version(), str(self.path))
        if not steps:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for step in steps:
                for statement in step.statements():
                    self._db.execute(statement)
                if step.version == 1:  # stores written before `updated` existed on every table
                    for table in ENTITY_KEYS:
                        columns = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
                        if "updated" not in columns:
                            self._db.execute(f"ALTER TABLE {table} ADD COLUMN updated REAL")
                self._db.execute("INSERT INTO schema_version VALUES (?, ?)", (step.version, time.time()))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def schema_version(self) -> int:
        """The highest migration applied to this file (0: none yet)."""
        row = self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """An exclusive ``flock`` on ``<file>.<name>.lock`` while the block runs (processes on this
        machine; a SQLite file is never shared between machines)."""
        check_name(name)
        with open(f"{self.path}.{name}.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

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
        feed = [(table, k, text, now) for k, text, now in payload]

        def write() -> None:
            self._db.executemany(sql, payload)
            self._db.executemany("INSERT INTO changes (tbl, key, row, created) VALUES (?, ?, ?, ?)", feed)

        with self._lock:
            self._transaction(write)

    def delete_row(self, table: str, key: str) -> bool:
        """Delete the row with this key (and note it in the change feed); whether one existed."""
        column = entity_key(table)
        found = [False]

        def write() -> None:
            found[0] = self._db.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,)).rowcount > 0
            if found[0]:
                self._db.execute(
                    "INSERT INTO changes (tbl, key, row, created) VALUES (?, ?, NULL, ?)",
                    (table, key, time.time()),
                )

        with self._lock:
            self._transaction(write)
        return found[0]

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
        """The event log in ``rowid`` (acceptance) order: :data:`EVENT_COLUMNS`, ``""`` for no rating."""
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

    def events_after(self, after: int = 0, limit: int = 100_000) -> tuple[list[tuple], int]:
        """Events with ``rowid > after`` in rowid (commit) order, and the last rowid."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT rowid, {', '.join(EVENT_COLUMNS)} FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (int(after), int(limit)),
            ).fetchall()
        return [r[1:] for r in rows], (int(rows[-1][0]) if rows else int(after))

    def changes_after(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, str, str, dict | None]]:
        """Entity changes with ``seq > after`` in commit order (row None: deleted)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, tbl, key, row FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
                (int(after), int(limit)),
            ).fetchall()
        return [(int(q), t, k, None if r is None else json.loads(r)) for q, t, k, r in rows]

    def last_change(self) -> int:
        """The newest change's sequence (0 for none)."""
        with self._lock:
            return int(self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0])

    def stream_names(self) -> dict[str, int]:
        """Every stream's name and row count."""
        with self._lock:
            return dict(
                self._db.execute("SELECT stream, COUNT(*) FROM streams GROUP BY stream ORDER BY stream")
            )

    def record_kinds(self) -> dict[str, int]:
        """Every record kind and its document count."""
        with self._lock:
            return dict(self._db.execute("SELECT kind, COUNT(*) FROM records GROUP BY kind ORDER BY kind"))

    def prune_changes(self, older_than_s: float) -> int:
        """Delete feed rows older than ``older_than_s`` seconds (never the newest); how many."""
        with self._lock:
            return self._db.execute(
                "DELETE FROM changes WHERE created < ? AND seq < (SELECT MAX(seq) FROM changes)",
                (time.time() - older_than_s,),
            ).rowcount

    def wait_for_change(self, timeout_s: float) -> None:
        """SQLite has no notifications: sleep ``timeout_s`` (followers poll)."""
        time.sleep(timeout_s)

    def close(self) -> None:
        """Close the SQLite connection (waiting for a running call); the repository is unusable after."""
        with self._lock:
            self._db.close()
