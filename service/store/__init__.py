"""The service's store: a durable repository, and the validated market and read snapshot in memory.

:class:`Store` is what the API uses. It writes through a :class:`~service.store.repository.MarketRepository`
(:func:`open_store` picks the backend from the store URL: a path is the embedded SQLite store, the
default) and keeps, in memory, the validated tables as a restart would read them, the event log and
an immutable read :class:`~service.store.snapshot.Snapshot`:

- a worker, job or employer write updates the table in memory and rebuilds the snapshot before it
  returns, so the next request sees it (a deleted or changed job is never served stale);
- events are committed before they are acknowledged and kept in memory; they only change the history
  and which jobs are filled, which a background thread (:mod:`service.store.refresher`) applies to
  the snapshot incrementally every ``events_refresh_s`` (default 2 s), so event-derived features may
  lag ingestion by up to that long while ingestion stays cheap;
- reads never wait: :meth:`Store.snapshot` returns the current snapshot.

Events about a worker who is not stored yet are kept; they count from the moment the worker is
stored (the history of a new worker is extended with its logged events).

**Replicas** (issue #16). Several processes may share one repository (a PostgreSQL database, or one
SQLite file on one machine). Every change reaches a store's memory through the repository's change
feed, its own writes included: a write commits, then :meth:`Store.sync` applies the feed from the
store's cursor onwards (entity ``changes`` and events, both numbered in commit order), so each
process applies the same changes in the same order, each exactly once. A background follower
(:meth:`Store.start_follower`) wakes on the database's notification (or every ``follow_s``) and
applies the other processes' writes: an entity write on one replica is served by the others within
about a second. The store's own written rows are not validated twice: a fed row equal to one this
store just wrote takes its already validated frame.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from gigmatch.core.contract import (
    VOCABULARY_TABLES,
    Market,
    empty_table,
    events_from_records,
    serialise_table,
    validate_table,
)
from gigmatch.core.taxonomy import Taxonomy, default_taxonomy
from gigmatch.core.times import market_now
from service.store import snapshot as snapshots
from service.store.refresher import Refresher
from service.store.repository import EVENT_COLUMNS, MarketRepository, entity_key
from service.store.snapshot import HiredPairs, Snapshot, concat_events
from service.store.sqlite import SQLiteRepository

__all__ = ["Snapshot", "Store", "open_repository", "open_store"]

log = logging.getLogger("gigmatch.store")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
CHANGES_KEPT_S = 7 * 24 * 3600.0  # the change feed keeps a week; a replica further behind restarts


def is_postgres(url: str | Path) -> bool:
    """Whether a store URL names a PostgreSQL database (else it is a SQLite file path)."""
    return str(url).startswith(POSTGRES_SCHEMES)


def open_repository(url: str | Path) -> MarketRepository:
    """The repository a store URL names: ``postgresql://user:pass@host:port/db`` or a SQLite file path.

    Raises
    ------
    ValueError
        For another URL scheme, or a PostgreSQL URL without the ``postgres`` extra installed.
    service.store.repository.StoreUnavailable
        When the PostgreSQL server cannot be reached.
    """
    text = str(url)
    if is_postgres(text):
        try:
            from service.store.postgres import PostgresRepository  # psycopg is an optional extra
        except ImportError:
            raise ValueError(
                "a postgresql:// store needs psycopg 3: pip install 'gigmatch[postgres]'"
            ) from None
        return PostgresRepository(text)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise ValueError(
            f"store {scheme}://... is not supported; give a SQLite file path or a postgresql:// URL"
        )
    return SQLiteRepository(text)


def open_store(url: str | Path, *, events_refresh_s: float = 2.0) -> Store:
    """A store over the backend the URL names (see :func:`open_repository`)."""
    return Store(open_repository(url), events_refresh_s=events_refresh_s)


def events_frame(rows: list[tuple]) -> pd.DataFrame:
    """The validated events table from stored event tuples (:data:`EVENT_COLUMNS` order, ISO ``ts``).

    Stored events were validated when they were accepted, so this only assembles them (the same
    function the API uses for its already validated bodies).
    """
    if not rows:
        return empty_table("events")
    records = []
    for row in rows:
        record = dict(zip(EVENT_COLUMNS, row, strict=True))
        for name, cast in (("rating", float), ("position", lambda v: int(float(v))), ("propensity", float)):
            value = record[name]
            record[name] = None if value is None or value == "" or value != value else cast(value)
        record["policy"] = record["policy"] or ""
        records.append(record)
    return events_from_records(records)


class Store:
    """Thread-safe store over one repository.

    Parameters
    ----------
    repository : MarketRepository or str or Path
        The backend; a path opens the embedded SQLite store there.
    events_refresh_s : float, default=2.0
        How often the refresher applies ingested events to the snapshot, seconds.
    """

    def __init__(
        self,
        repository: MarketRepository | str | Path,
        events_refresh_s: float = 2.0,
        follow_s: float = 0.5,
    ):
        self.repo = repository if isinstance(repository, MarketRepository) else SQLiteRepository(repository)
        self.events_refresh_s = events_refresh_s
        self.follow_s = follow_s
        self.replica_id = uuid.uuid4().hex[:12]  # this process's name for leases
        self._sync_lock = threading.Lock()  # one feed reader at a time
        self._changes_seq: int | None = None  # last entity change applied (None: no table loaded yet)
        self._events_seq = 0  # last event sequence in memory
        self._follower: threading.Thread | None = None
        self._stop_follow = threading.Event()
        self._lock = threading.RLock()  # the in-memory tables and event list
        self._build_lock = threading.Lock()  # one snapshot build at a time; readers never take it
        self._snapshot: Snapshot | None = None
        self._events: list[pd.DataFrame] | None = None  # validated events in memory (None: not loaded)
        self._pending: list[pd.DataFrame] = []  # events accepted since the snapshot last saw events
        self._events_dirty = threading.Event()
        # validated entity tables as a restart reads them (None: no rows); a table is read from the
        # repository once, then writes patch it here too, so a PUT does not re-read them all
        self._tables: dict[str, pd.DataFrame | None] = {}
        self._hired = HiredPairs()
        self._taxonomy: Taxonomy | None = None
        self._refresher = Refresher(self.refresh_events, events_refresh_s)

    # ---- writes --------------------------------------------------------------------------------
    def _upsert(self, table: str, frame: pd.DataFrame, rebuild: bool = True) -> None:
        """Store validated rows (contract form); they reach memory through the feed (:meth:`sync`)."""
        rows = serialise_table(frame, table).astype(object).where(lambda d: d.notna(), "")
        # every column is kept, empty ones as "": the contract refuses a missing required list
        # (skills) where it accepts an empty one
        records = rows.to_dict("records")
        self.repo.upsert_rows(table, records)
        self.sync(own=(table, records, frame.reset_index(drop=True)), rebuild=rebuild)

    def _patch(self, table: str, fresh: pd.DataFrame) -> None:
        """Patch the in-memory table with validated rows: replaced rows keep their place, new rows come
        last (the repository's stored order). Call with ``_lock`` held."""
        key = entity_key(table)
        keys = fresh[key].to_numpy(dtype=object)
        if pd.Index(keys).has_duplicates:  # one key written twice in a batch: the last content, first place
            last = {k: i for i, k in enumerate(keys)}
            fresh = fresh.iloc[[last[k] for k in pd.unique(keys)]].reset_index(drop=True)
        old = self._tables[table]
        if old is not None:
            at = pd.Index(old[key]).get_indexer(fresh[key])
            order = np.arange(len(old))
            order[at[at >= 0]] = len(old) + np.flatnonzero(at >= 0)
            order = np.r_[order, len(old) + np.flatnonzero(at < 0)]
            fresh = pd.concat([old, fresh], ignore_index=True).iloc[order].reset_index(drop=True)
        self._tables[table] = fresh

    def _validated(self, table: str, rows: list[dict], own) -> pd.DataFrame:
        """Fed rows as a validated frame: this store's own just-written frame when they are exactly its
        rows, else validated with the market's vocabulary."""
        if own is not None and own[0] == table:
            _, records, frame = own
            key = entity_key(table)
            where = {str(r[key]): i for i, r in enumerate(records)}
            positions = [where.get(str(r.get(key))) for r in rows]
            if None not in positions and all(
                _same_row(records[i], r) for i, r in zip(positions, rows, strict=True)
            ):
                return frame.iloc[positions].reset_index(drop=True)
        return validate_table(pd.DataFrame(rows), table, source=table, taxonomy=self.taxonomy)

    def sync(self, own=None, rebuild: bool = True) -> bool:
        """Apply the change feed from this store's cursor: every entity write committed since, by any
        process; then the new events. Rebuilds the snapshot when an entity changed (and ``rebuild``).
        Returns whether an entity changed. When it returns, the snapshot holds every entity write
        committed before the call (a concurrent sync that read them first has finished its rebuild).

        ``own`` is ``(table, records, frame)`` of a write this store just committed, whose validated
        frame is reused instead of validating the fed rows again.
        """
        changed = own is not None
        reset = False
        with self._sync_lock:
            cursor = self._changes_seq
            while cursor is not None:
                batch = self.repo.changes_after(cursor, limit=10_000)
                if not batch:
                    break
                cursor = batch[-1][0]
                for (table, deleted), run in itertools.groupby(batch, key=lambda c: (c[1], c[3] is None)):
                    run = list(run)
                    if table in VOCABULARY_TABLES:  # the vocabulary changed (seeding): read everything again
                        reset = True
                        continue
                    with self._lock:
                        loaded = table in self._tables
                    if not loaded:  # read whole when first needed, with these changes in it
                        continue
                    if deleted:
                        gone = {c[2] for c in run}
                        with self._lock:
                            old = self._tables[table]
                            if old is not None:
                                rest = old[~old[entity_key(table)].isin(gone)].reset_index(drop=True)
                                self._tables[table] = rest if len(rest) else None
                    else:
                        fresh = self._validated(table, [c[3] for c in run], own)
                        with self._lock:
                            self._patch(table, fresh)
                    changed = True
            with self._lock:
                if reset:
                    self._tables, self._taxonomy, self._changes_seq = {}, None, None
                    changed = True
                elif cursor is not None:
                    self._changes_seq = cursor
            # still under the feed lock: a sync that returns has its snapshot built, even when another
            # thread's sync read the changes first (the answer loop relies on it, runner.tick)
            self._follow_events()
            if changed and rebuild:
                self.rebuild()
        return changed

    def _follow_events(self) -> int:
        """Append the events accepted since this store's event cursor (by any process) to the log in
        memory and to the pending batch; how many."""
        n = 0
        with self._lock:
            if self._events is None:  # the log is read whole when first needed
                return 0
            while True:
                rows, last = self.repo.events_after(self._events_seq)
                if not rows:
                    break
                fresh = events_frame(rows)
                self._events.append(fresh)
                self._pending.append(fresh)
                self._events_seq = last
                n += len(rows)
            if n:
                self._events_dirty.set()
        return n

    def seed(self, market: Market) -> None:
        """Load a validated market into the store (used when the store is empty), with its vocabulary
        when it has its own."""
        if not market.taxonomy.is_built_in:
            trades, certs = market.taxonomy.to_frames()
            self._upsert("certificates", certs, rebuild=False)
            self._upsert("trades", trades, rebuild=False)
            self._taxonomy = None  # read back from the rows just stored
        self._upsert("workers", market.workers, rebuild=False)
        self._upsert("jobs", market.jobs, rebuild=False)
        if len(market.employers):
            self._upsert("employers", market.employers, rebuild=False)
        if len(market.events):
            self.add_events(market.events)
        self.rebuild()

    def upsert_worker(self, row: dict) -> None:
        """Create or replace a worker (a contract row: strings or typed values), read with the market's
        vocabulary."""
        worker = validate_table(pd.DataFrame([row]), "workers", source="worker", taxonomy=self.taxonomy)
        self._upsert("workers", worker)

    def upsert_job(self, row: dict) -> None:
        """Create or replace a job. One without ``posted_at`` is posted now (or when it was first
        stored), so that it counts in the market statistics from then on."""
        job = validate_table(pd.DataFrame([row]), "jobs", source="job", taxonomy=self.taxonomy)
        if pd.isna(job.loc[0, "posted_at"]):
            known = self._frame("jobs")
            old = known[known["job_id"] == job.loc[0, "job_id"]] if known is not None else None
            first = old["posted_at"].iloc[0] if old is not None and len(old) else pd.NaT
            now = pd.Timestamp(market_now(), unit="s").floor("s")
            job.loc[0, "posted_at"] = first if not pd.isna(first) else now
        self._upsert("jobs", job)

    def delete_worker(self, worker_id: str) -> bool:
        """Delete a worker; whether it existed."""
        return self._delete("workers", worker_id)

    def delete_job(self, job_id: str) -> bool:
        """Delete a job (never recommended again); whether it existed."""
        return self._delete("jobs", job_id)

    def _delete(self, table: str, key: str) -> bool:
        found = self.repo.delete_row(table, key)
        if found:
            self.sync()  # the deletion comes back through the feed, in commit order
        return found

    def add_events(self, events: pd.DataFrame) -> tuple[int, int]:
        """Insert validated events; returns (accepted, duplicates). Committed before it returns."""
        rows = [
            (
                e,
                ts.isoformat(),
                j,
                w,
                ev,
                None if r != r else float(r),
                None if p != p else int(p),
                pol or None,
                None if q != q else float(q),
            )
            for e, ts, j, w, ev, r, p, pol, q in zip(*(events[c] for c in EVENT_COLUMNS), strict=True)
        ]
        accepted = self.repo.add_events(rows)  # committed: the database decides what is new
        if accepted:
            # the accepted events (and any other process's since the cursor) enter memory through the
            # feed, in commit order, each once: an event is in the log a rebuild reads or in a later
            # pending batch
            self._follow_events()
        return accepted, len(rows) - accepted

    # ---- reads ---------------------------------------------------------------------------------------
    @property
    def taxonomy(self) -> Taxonomy:
        """The market's vocabulary: the stored ``trades``/``certificates`` rows, else the built-in one."""
        if self._taxonomy is None:
            rows = {t: self.repo.read_rows(t) for t in VOCABULARY_TABLES}
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

    def counts(self) -> dict[str, int]:
        """Stored rows per table: workers, jobs, employers, events."""
        return self.repo.counts()

    def _frame(self, table: str) -> pd.DataFrame | None:
        with self._lock:
            if table not in self._tables:
                if self._changes_seq is None:  # the feed position before the first read: replays are
                    self._changes_seq = self.repo.last_change()  # idempotent, nothing is missed
                rows = self.repo.read_rows(table)
                frame = validate_table(pd.DataFrame(rows), table, taxonomy=self.taxonomy) if rows else None
                self._tables[table] = frame
            return self._tables[table]

    def _event_frames(self) -> list[pd.DataFrame]:
        """The validated event log as frames in arrival order; read once, then kept in memory. Call
        with ``_lock`` held."""
        if self._events is None:
            frames, after = [], 0
            while True:
                rows, last = self.repo.events_after(after, limit=500_000)
                if not rows:
                    break
                frames.append(events_frame(rows))
                after = last
            self._events = [concat_events(frames)] if frames else []
            self._events_seq = after
        return self._events

    def market(self, events: bool = True) -> Market:
        """The stored market (validated tables); ``events=False`` leaves the event log empty.

        The frames are the store's own in-memory tables: read them, do not modify them in place.
        """
        workers, jobs, employers = self._frame("workers"), self._frame("jobs"), self._frame("employers")
        market = Market(
            workers=workers if workers is not None else empty_table("workers"),
            jobs=jobs if jobs is not None else empty_table("jobs"),
            taxonomy=self.taxonomy,
        )
        if employers is not None:
            market.employers = employers
        if events:
            with self._lock:
                self._events = [concat_events(self._event_frames())]  # compacted to one frame
                market.events = self._events[0]
        return market

    def snapshot(self) -> Snapshot:
        """The current read snapshot (never blocks once the first one exists)."""
        snap = self._snapshot
        return snap if snap is not None else self.rebuild()

    def rebuild(self) -> Snapshot:
        """Rebuild from the stored entities now (after entity writes) and swap it in."""
        with self._build_lock:
            self._events_dirty.clear()
            with self._lock:  # one critical section: an event is either in `log` or in a later pending
                pending, self._pending = self._pending, []
                log = list(self._event_frames())  # joined only if the build needs the whole log
            market = self.market(events=False)
            self._snapshot = snapshots.build(market, self._snapshot, pending, log, self._hired)
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
                self._snapshot = snapshots.with_new_events(
                    self._snapshot, concat_events(pending), self._hired
                )

    def start_refresher(self) -> None:
        """Start the background thread that applies ingested events every ``events_refresh_s``."""
        self._refresher.start()

    def start_follower(self) -> None:
        """Start the background thread that applies other processes' writes: it waits for the
        database's notification (or ``follow_s``), then :meth:`sync`; it also prunes the change feed
        (older than :data:`CHANGES_KEPT_S`) once an hour, under a lease so that one replica does it."""
        if self._follower is not None:
            return

        def loop() -> None:
            next_prune = 0.0
            while not self._stop_follow.is_set():
                try:
                    self.repo.wait_for_change(self.follow_s)
                    if self._stop_follow.is_set():
                        break
                    self.sync()
                    if time.monotonic() >= next_prune:
                        next_prune = time.monotonic() + 3600
                        if self.repo.acquire_lease("prune_changes", self.replica_id, ttl_s=1800):
                            self.repo.prune_changes(CHANGES_KEPT_S)
                except Exception as exc:  # the database is away: keep serving the last snapshot
                    log.warning("following the store failed (%s); retrying", str(exc).splitlines()[0])
                    self._stop_follow.wait(1.0)

        self._follower = threading.Thread(target=loop, name="gigmatch-store-follower", daemon=True)
        self._follower.start()

    def close(self) -> None:
        """Stop the refresher and the follower and close the repository."""
        self._refresher.stop()
        self._stop_follow.set()
        if self._follower is not None:
            self._follower.join(5)
        self.repo.close()


def _same_row(written: dict, fed: dict) -> bool:
    """Whether a fed row is the one written (compared as JSON would carry it)."""
    return len(written) == len(fed) and all(str(v) == str(fed.get(k)) for k, v in written.items())
