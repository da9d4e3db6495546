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
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd

from gigmatch.core.contract import VOCABULARY_TABLES, Market, empty_table, serialise_table, validate_table
from gigmatch.core.taxonomy import Taxonomy, default_taxonomy
from gigmatch.core.times import market_now
from service.store import snapshot as snapshots
from service.store.refresher import Refresher
from service.store.repository import EVENT_COLUMNS, MarketRepository, entity_key
from service.store.snapshot import HiredPairs, Snapshot, concat_events
from service.store.sqlite import SQLiteRepository

__all__ = ["Snapshot", "Store", "open_store"]


def open_store(url: str | Path, *, events_refresh_s: float = 2.0) -> Store:
    """A store over the backend the URL names: a filesystem path is an embedded SQLite store."""
    text = str(url)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise ValueError(f"store {scheme}://... is not supported by this version; give a SQLite file path")
    return Store(SQLiteRepository(text), events_refresh_s=events_refresh_s)


class Store:
    """Thread-safe store over one repository.

    Parameters
    ----------
    repository : MarketRepository or str or Path
        The backend; a path opens the embedded SQLite store there.
    events_refresh_s : float, default=2.0
        How often the refresher applies ingested events to the snapshot, seconds.
    """

    def __init__(self, repository: MarketRepository | str | Path, events_refresh_s: float = 2.0):
        self.repo = repository if isinstance(repository, MarketRepository) else SQLiteRepository(repository)
        self.events_refresh_s = events_refresh_s
        self._lock = threading.RLock()  # the in-memory tables and event list
        self._build_lock = threading.Lock()  # one snapshot build at a time; readers never take it
        self._snapshot: Snapshot | None = None
        self._events: list[pd.DataFrame] | None = None  # validated events in memory (None: not loaded)
        self._event_ids: set[str] = set()
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
        """Store validated rows (contract form) and patch the table in memory: replaced rows keep
        their place, new rows come last (the repository's stored order)."""
        key = entity_key(table)
        rows = serialise_table(frame, table).astype(object).where(lambda d: d.notna(), "")
        # every column is kept, empty ones as "": the contract refuses a missing required list
        # (skills) where it accepts an empty one
        self.repo.upsert_rows(table, rows.to_dict("records"))
        with self._lock:
            if table in self._tables:
                old = self._tables[table]
                fresh = frame.reset_index(drop=True)
                if old is not None:
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
        with self._lock:
            old = self._tables.get(table)
            if found and old is not None:
                rest = old[old[entity_key(table)] != key].reset_index(drop=True)
                self._tables[table] = rest if len(rest) else None
        if found:
            self.rebuild()
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
        with self._lock:
            # under the lock: an event is either in the log a rebuild reads or in a later pending batch
            accepted = self.repo.add_events(rows)
            if accepted and self._events is not None:
                seen = self._event_ids  # O(batch) membership; Series.isin(set) would convert the set
                fresh = events[np.fromiter((e not in seen for e in events["event_id"]), bool, len(events))]
                self._events.append(fresh)
                self._pending.append(fresh)
                self._event_ids.update(fresh["event_id"])
                self._events_dirty.set()
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
                rows = self.repo.read_rows(table)
                frame = validate_table(pd.DataFrame(rows), table, taxonomy=self.taxonomy) if rows else None
                self._tables[table] = frame
            return self._tables[table]

    def _event_frames(self) -> list[pd.DataFrame]:
        """The validated event log as frames in arrival order; read once, then kept in memory. Call
        with ``_lock`` held."""
        if self._events is None:
            raw = self.repo.read_events()
            frame = validate_table(raw, "events") if len(raw) else None
            self._events = [frame] if frame is not None else []
            self._event_ids = set(frame["event_id"]) if frame is not None else set()
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

    def close(self) -> None:
        """Stop the refresher and close the repository."""
        self._refresher.stop()
        self.repo.close()
