"""The persistence interface of the service: what a database must offer the store.

:class:`MarketRepository` is the protocol (in the manner of implicit's ``RecommenderBase``): every
backend implements it and passes the same shared tests (``StoreContract`` in ``tests/service/test_store.py``). The
store (:class:`service.store.Store`) keeps the validated tables, the event log and the read snapshot
in memory and talks to a repository only through these methods, so a second database is a new
module, not an edit.

Besides the market's own tables a repository keeps two generic kinds of state that the service's
loops build on (the answer loop's cases and answers, dispatch offers, webhook deliveries, the change
feed replicas follow), so that each of those is written once for every backend:

- **streams**: append-only logs of JSON rows, each row numbered by a sequence (the cursor) that only
  grows; readers page through ``read_stream(name, after=cursor)``;
- **records**: keyed JSON documents, upserted and read whole;
- **leases**: a named lease held by one holder until it expires, so that a piece of background work
  is done by one process at a time.

Stream, record-kind and lease names are values in fixed tables, never SQL identifiers.

Rows are contract rows: ``dict`` of column -> value in the contract's string form (lists joined with
``;``, ISO times), exactly what :func:`gigmatch.core.contract.serialise_table` writes and
:func:`gigmatch.core.contract.validate_table` reads back. Table and key names come from
:data:`ENTITY_KEYS`, never from a caller, so no name is ever built into SQL from input.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

import pandas as pd

# entity tables and their primary keys; events are keyed by event_id
ENTITY_KEYS: dict[str, str] = {
    "workers": "worker_id",
    "jobs": "job_id",
    "employers": "employer_id",
    "trades": "trade",
    "certificates": "certificate",
}
EVENT_COLUMNS = (
    "event_id",
    "ts",
    "job_id",
    "worker_id",
    "event",
    "rating",
    "position",
    "policy",
    "propensity",
)


class StoreUnavailable(RuntimeError):
    """The database cannot be reached (down, restarting, out of connections): the API answers 503."""


NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")  # stream, record-kind and lease names


def check_name(name: str) -> str:
    """A stream, record-kind or lease name (lowercase, digits, underscores; at most 40); else ValueError."""
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"invalid stream/record/lease name {name!r}")
    return name


def entity_key(table: str) -> str:
    """The primary-key column of an entity table; ``ValueError`` for any other name."""
    try:
        return ENTITY_KEYS[table]
    except KeyError:
        raise ValueError(
            f"unknown entity table {table!r}; expected one of {', '.join(ENTITY_KEYS)}"
        ) from None


@runtime_checkable
class MarketRepository(Protocol):
    """A durable store of a market's entity rows and its event log.

    Writes are durable when they return (an acknowledged event survives a crash). Reads return rows
    in a stable order: entities in the order they were first stored (an update keeps its place),
    events in the order they were accepted.
    """

    url: str

    def read_rows(self, table: str) -> list[dict]:
        """Every row of an entity table, in stored order."""
        ...

    def upsert_rows(self, table: str, rows: list[dict]) -> None:
        """Insert rows, or replace the stored row with the same key in place."""
        ...

    def delete_row(self, table: str, key: str) -> bool:
        """Delete the row with this key; whether one existed."""
        ...

    def add_events(self, rows: list[tuple]) -> int:
        """Insert events given as tuples in :data:`EVENT_COLUMNS` order, ignoring event ids already
        stored; returns how many were new. Committed before it returns."""
        ...

    def read_events(self) -> pd.DataFrame:
        """The event log in acceptance order, columns :data:`EVENT_COLUMNS` in string form (empty
        strings for missing ratings, positions, policies and propensities)."""
        ...

    def counts(self) -> dict[str, int]:
        """Rows per table: workers, jobs, employers, events."""
        ...

    def append(self, stream: str, rows: list[dict]) -> list[int]:
        """Append JSON rows to a stream; returns their sequence numbers (increasing). Committed."""
        ...

    def read_stream(self, stream: str, after: int = 0, limit: int = 1000) -> list[tuple[int, dict]]:
        """Up to ``limit`` rows of a stream with sequence > ``after``, in sequence order."""
        ...

    def put_records(self, kind: str, records: dict[str, dict]) -> None:
        """Upsert keyed JSON documents of one kind (all in one transaction)."""
        ...

    def read_records(self, kind: str) -> dict[str, dict]:
        """Every document of one kind, by key."""
        ...

    def acquire_lease(self, name: str, holder: str, ttl_s: float) -> bool:
        """Take or renew the lease ``name`` for ``holder`` for ``ttl_s`` seconds; False when another
        holder has it and it has not expired."""
        ...

    # ---- the change feed replicas follow (issue #16) ---------------------------------------------
    # Entity writes append one ``changes`` row per key in their own transaction and events carry an
    # acceptance sequence; both are numbered in commit order, so a process that remembers the last
    # number it applied reads exactly what is new (``seq > cursor``) and never skips a late commit.

    def events_after(self, after: int = 0, limit: int = 100_000) -> tuple[list[tuple], int]:
        """Up to ``limit`` events accepted after sequence ``after``, as tuples in :data:`EVENT_COLUMNS`
        order (``ts`` ISO text, ``rating`` float or None), and the sequence of the last one (``after``
        when there are none)."""
        ...

    def changes_after(self, after: int = 0, limit: int = 10_000) -> list[tuple[int, str, str, dict | None]]:
        """Up to ``limit`` entity changes after sequence ``after``: ``(seq, table, key, row)``, row None
        for a delete, in commit order."""
        ...

    def last_change(self) -> int:
        """The sequence of the newest entity change (0 for none)."""
        ...

    def stream_names(self) -> dict[str, int]:
        """Every stream's name and row count (for ``gigmatch store info`` and ``store copy``)."""
        ...

    def record_kinds(self) -> dict[str, int]:
        """Every record kind and its document count."""
        ...

    def prune_changes(self, older_than_s: float) -> int:
        """Delete feed rows older than ``older_than_s`` seconds (never the newest); how many."""
        ...

    def wait_for_change(self, timeout_s: float) -> None:
        """Return when another process may have written (a notification), or after ``timeout_s``."""
        ...

    def exclusive(self, name: str) -> AbstractContextManager:
        """A lock held across processes (and machines, on a server database) while the block runs:
        what makes seeding an empty store happen once when replicas start together."""
        ...

    def schema_version(self) -> int:
        """The schema version the store was migrated to."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
