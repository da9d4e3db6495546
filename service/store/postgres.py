"""The PostgreSQL backend of :class:`~service.store.repository.MarketRepository`: one database shared by
any number of service replicas.

psycopg 3 with its connection pool (``psycopg_pool``): the maintained PostgreSQL driver for Python,
with server-side binding, ``COPY`` and ``LISTEN``/``NOTIFY`` support, and a pool that checks and
replaces broken connections, which hand-written connection handling would have to re-implement.

- **Same contract as SQLite.** Rows are the contract's JSON rows as text; ``pos`` (an identity column
  an upsert does not touch) keeps the first-stored order; events are ``INSERT ... ON CONFLICT DO
  NOTHING`` on ``event_id``, so ids are idempotent across replicas; every write returns after its
  transaction commits (``synchronous_commit`` is the server's, ``on`` by default).
- **The change feed.** Entity writes append one row per key to ``changes`` in the same transaction;
  events carry ``seq``. Writers of either take one transaction-level advisory lock (:data:`FEED_LOCK`)
  before they draw sequence numbers, so sequence order is commit order and a replica that reads
  ``seq > cursor`` never skips a row that committed late. The cost is that writes are serialised
  across replicas, as SQLite serialises them in one file; a batch holds the lock only for its own
  insert. Each feed write ends with ``NOTIFY gigmatch_changes``: followers wake at once instead of
  polling.
- **Streams** take their own advisory lock (:data:`STREAM_LOCK`) for the same reason: a reader paging
  with ``after=cursor`` must never skip a row.
- **Leases** compare against the database's clock, not the replicas' (machines' clocks differ).
- **Outage.** A connection error, or no connection free within ``timeout_s``, raises
  :class:`~service.store.repository.StoreUnavailable` with one line (the API answers 503).
- **Migrations** (``service/store/migrations/postgres``) run at open in one transaction under an
  advisory lock, so replicas starting together migrate once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from service.store import migrations
from service.store.repository import EVENT_COLUMNS, StoreUnavailable, check_name, entity_key

FEED_LOCK = 0x6769676D01  # advisory lock keys ("gigm" + n): entity changes and events
STREAM_LOCK = 0x6769676D02  # stream appends
MIGRATE_LOCK = 0x6769676D03  # schema migrations
CHANNEL = "gigmatch_changes"
# SQL array types of the event columns that are not text, and how a value is cast for them
_EVENT_SQL_TYPES = {"rating": "float8", "position": "int8", "propensity": "float8"}
_EVENT_CAST = {"rating": float, "position": int, "propensity": float}


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def _lock_key(name: str) -> int:
    """A stable 63-bit advisory-lock key for a named exclusive section."""
    return int.from_bytes(name.encode()[:7].ljust(7, b"_"), "big") | (1 << 58)


class PostgresRepository:
    """A market in one PostgreSQL database (tables created by the migrations at open).

    Parameters
    ----------
    url : str
        ``postgresql://user:password@host:port/dbname``.
    min_size, max_size : int
        Connections the pool keeps open / may open.
    timeout_s : float
        Longest wait for a connection (then :class:`StoreUnavailable`).
    """

    def __init__(self, url: str, min_size: int = 1, max_size: int = 8, timeout_s: float = 5.0):
        self.url = redact(url)
        self._dsn = url
        self._listener: psycopg.Connection | None = None
        self._listen_lock = threading.Lock()
        try:  # one direct attempt first: a wrong host, password or database fails at once, in one line
            psycopg.connect(url, connect_timeout=max(1, int(timeout_s))).close()
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to {self.url}: {_first_line(exc)}") from None
        try:
            self._pool = ConnectionPool(
                url,
                min_size=min_size,
                max_size=max_size,
                timeout=timeout_s,
                kwargs={"autocommit": True},
                open=False,
                name="gigmatch",
            )
            self._pool.open(wait=True, timeout=timeout_s)
        except (psycopg.Error, PoolTimeout) as exc:
            raise StoreUnavailable(f"cannot connect to {self.url}: {_first_line(exc)}") from None
        self._migrate()

    # ---- plumbing ---------------------------------------------------------------------------------
    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout:
            raise StoreUnavailable(
                f"store {self.url} unavailable: no connection within the timeout"
            ) from None
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"store {self.url} unavailable: {_first_line(exc)}") from None

    @contextmanager
    def _feed_write(self, lock: int = FEED_LOCK) -> Iterator[psycopg.Cursor]:
        """A transaction holding the feed's advisory lock; notifies followers when it commits."""
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            yield cur
            cur.execute(f"NOTIFY {CHANNEL}")

    def _migrate(self) -> None:
        with self._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied DOUBLE PRECISION)"
            )
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            for step in migrations.plan("postgres", int(current), self.url):
                for statement in step.statements():
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (%s, %s)", (step.version, time.time()))

    def schema_version(self) -> int:
        """The highest migration applied to this database."""
        with self._conn() as conn:
            return int(conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0])

    @contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """A session advisory lock named ``name`` held while the block runs (on one pooled connection)."""
        check_name(name)
        key = _lock_key(name)
        with self._conn() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    # ---- entity rows --------------------------------------------------------------------------------
    def read_rows(self, table: str) -> list[dict]:
        """Every row of an entity table, decoded from JSON, in first-stored order."""
        entity_key(table)
        with self._conn() as conn:
            return [json.loads(r[0]) for r in conn.execute(f"SELECT row FROM {table} ORDER BY pos")]

    def upsert_rows(self, table: str, rows: list[dict]) -> None:
        """Insert or update rows (an update keeps its place) and feed them, in one transaction."""
        key = entity_key(table)
        if not rows:
            return
        now = time.time()
        keys = [str(r[key]) for r in rows]
        texts = [json.dumps(r, ensure_ascii=False, default=str) for r in rows]
        with self._feed_write() as cur:
            cur.execute(
                f"INSERT INTO {table} ({key}, row, updated) SELECT k, r, %s FROM unnest(%s::text[], %s::text[]) "
                f"WITH ORDINALITY AS t(k, r, i) ORDER BY i "
                f"ON CONFLICT ({key}) DO UPDATE SET row = excluded.row, updated = excluded.updated",
                (now, keys, texts),
            )
            cur.execute(
                "INSERT INTO changes (tbl, key, row, created) SELECT %s, k, r, %s "
                "FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS t(k, r, i) ORDER BY i",
                (table, now, keys, texts),
            )

    def delete_row(self, table: str, key: str) -> bool:
        """Delete the row with this key and feed the deletion; whether one existed."""
        column = entity_key(table)
        with self._feed_write() as cur:
            cur.execute(f"DELETE FROM {table} WHERE {column} = %s", (key,))
            found = cur.rowcount > 0
            if found:
                cur.execute(
                    "INSERT INTO changes (tbl, key, row, created) VALUES (%s, %s, NULL, %s)",
                    (table, key, time.time()),
                )
        return found

    # ---- events ------------------------------------------------------------------------------------
    def add_events(self, rows: list[tuple]) -> int:
        """Insert events ``ON CONFLICT (event_id) DO NOTHING`` in one transaction; how many were new.

        One statement whatever the batch size: each column is sent as one array and ``unnest``-ed
        server-side (``executemany`` would make a round trip per row).
        """
        if not rows:
            return 0
        cols = list(zip(*rows, strict=True))
        arrays = [
            [None if v is None or v != v or v == "" else _EVENT_CAST[c](v) for v in values]
            if c in _EVENT_CAST
            else list(values)
            for c, values in zip(EVENT_COLUMNS, cols, strict=True)
        ]
        names = ", ".join(EVENT_COLUMNS)
        unnest = ", ".join(f"%s::{_EVENT_SQL_TYPES.get(c, 'text')}[]" for c in EVENT_COLUMNS)
        with self._feed_write() as cur:
            cur.execute(
                f"INSERT INTO events ({names}, received) SELECT {names}, %s FROM unnest({unnest}) "
                f"WITH ORDINALITY AS x({names}, i) ORDER BY i ON CONFLICT (event_id) DO NOTHING",
                (time.time(), *arrays),
            )
            return cur.rowcount

    def read_events(self) -> pd.DataFrame:
        """The event log in acceptance order: :data:`EVENT_COLUMNS`, ``""`` for no rating."""
        rows, _ = self.events_after(0, limit=2**62)
        frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
        return frame.astype(object).where(frame.notna(), "")

    def events_after(self, after: int = 0, limit: int = 100_000) -> tuple[list[tuple], int]:
        """Events with ``seq > after`` in seq (commit) order, and the last seq."""
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT seq, {', '.join(EVENT_COLUMNS)} FROM events WHERE seq > %s ORDER BY seq LIMIT %s",
                (int(after), int(limit)),
            ).fetchall()
        return [r[1:] for r in rows], (int(rows[-1][0]) if rows else int(after))

    def counts(self) -> dict[str, int]:
        """Rows in the workers, jobs, employers and events tables."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM workers), (SELECT count(*) FROM jobs), "
                "(SELECT count(*) FROM employers), (SELECT count(*) FROM events)"
            ).fetchone()
        return dict(zip(("workers", "jobs", "employers", "events"), map(int, row), strict=True))

    # ---- the change feed ---------------------------------------------------------------------------
    def changes_after(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, str, str, dict | None]]:
        """Entity changes with ``seq > after`` in commit order (row None: deleted)."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT seq, tbl, key, row FROM changes WHERE seq > %s ORDER BY seq LIMIT %s",
                (int(after), int(limit)),
            ).fetchall()
        return [(int(q), t, k, None if r is None else json.loads(r)) for q, t, k, r in rows]

    def last_change(self) -> int:
        """The newest change's sequence (0 for none)."""
        with self._conn() as conn:
            return int(conn.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0])

    def stream_names(self) -> dict[str, int]:
        """Every stream's name and row count."""
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT stream, count(*) FROM streams GROUP BY stream ORDER BY stream"
            ).fetchall()
        return {k: int(n) for k, n in rows}

    def record_kinds(self) -> dict[str, int]:
        """Every record kind and its document count."""
        with self._conn() as conn:
            rows = conn.execute("SELECT kind, count(*) FROM records GROUP BY kind ORDER BY kind").fetchall()
        return {k: int(n) for k, n in rows}

    def prune_changes(self, older_than_s: float) -> int:
        """Delete feed rows older than ``older_than_s`` seconds (never the newest); how many."""
        with self._conn() as conn:
            cur = conn.execute(
                "DELETE FROM changes WHERE created < %s AND seq < (SELECT MAX(seq) FROM changes)",
                (time.time() - older_than_s,),
            )
            return cur.rowcount

    def wait_for_change(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for a ``NOTIFY`` on :data:`CHANNEL` (a dedicated listening
        connection, reopened after an outage); returns early on the first one."""
        with self._listen_lock:
            try:
                if self._listener is None or self._listener.closed:
                    self._listener = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
                    self._listener.execute(f"LISTEN {CHANNEL}")
                for _ in self._listener.notifies(timeout=timeout_s, stop_after=1):
                    pass
            except psycopg.Error:
                if self._listener is not None:
                    self._listener.close()
                self._listener = None
                time.sleep(min(timeout_s, 1.0))  # the database is away: the follower retries

    # ---- streams, records, leases -------------------------------------------------------------------
    def append(self, stream: str, rows: list[dict]) -> list[int]:
        """Append JSON rows to a stream in one transaction; returns their sequences (increasing)."""
        check_name(stream)
        if not rows:
            return []
        texts = [json.dumps(r, ensure_ascii=False, default=str) for r in rows]
        with self._feed_write(STREAM_LOCK) as cur:
            cur.execute(
                "INSERT INTO streams (stream, row, created) SELECT %s, r, %s FROM unnest(%s::text[]) "
                "WITH ORDINALITY AS t(r, i) ORDER BY i RETURNING seq",
                (stream, time.time(), texts),
            )
            return sorted(int(r[0]) for r in cur.fetchall())

    def read_stream(self, stream: str, after: int = 0, limit: int = 1000) -> list[tuple[int, dict]]:
        """Up to ``limit`` ``(seq, row)`` pairs of a stream with ``seq > after``, in sequence order."""
        check_name(stream)
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT seq, row FROM streams WHERE stream = %s AND seq > %s ORDER BY seq LIMIT %s",
                (stream, int(after), int(limit)),
            ).fetchall()
        return [(int(seq), json.loads(row)) for seq, row in rows]

    def put_records(self, kind: str, records: dict[str, dict]) -> None:
        """Upsert ``{key: document}`` of one kind as JSON in one transaction."""
        check_name(kind)
        if not records:
            return
        keys = [str(k) for k in records]
        texts = [json.dumps(v, ensure_ascii=False, default=str) for v in records.values()]
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO records (kind, key, row, updated) SELECT %s, k, r, %s "
                "FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS t(k, r, i) ORDER BY i "
                "ON CONFLICT (kind, key) DO UPDATE SET row = excluded.row, updated = excluded.updated",
                (kind, time.time(), keys, texts),
            )

    def read_records(self, kind: str) -> dict[str, dict]:
        """Every document of one kind, by key, in first-stored order."""
        check_name(kind)
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT key, row FROM records WHERE kind = %s ORDER BY pos", (kind,)
            ).fetchall()
        return {k: json.loads(r) for k, r in rows}

    def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take or renew lease ``name`` for ``holder`` for ``ttl_s`` seconds of the database's clock, in
        one atomic upsert; False when another holder has it and it has not expired."""
        check_name(name)
        with self._conn() as conn:
            cur = conn.execute(
                "INSERT INTO leases (name, holder, expires) "
                "VALUES (%s, %s, extract(epoch FROM clock_timestamp()) + %s) ON CONFLICT (name) DO UPDATE "
                "SET holder = excluded.holder, expires = excluded.expires "
                "WHERE leases.holder = excluded.holder OR leases.expires < extract(epoch FROM clock_timestamp())",
                (name, holder, float(ttl_s)),
            )
            return cur.rowcount > 0

    def close(self) -> None:
        """Close the pool and the listening connection."""
        with self._listen_lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        self._pool.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
