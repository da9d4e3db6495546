"""The persistence interface of the service: what a database must offer the store.

:class:`MarketRepository` is the protocol (in the manner of implicit's ``RecommenderBase``): every
backend implements it and passes the same shared tests (``tests/service/store_contract.py``). The
store (:class:`service.store.Store`) keeps the validated tables, the event log and the read snapshot
in memory and talks to a repository only through these methods, so a second database is a new
module, not an edit.

Rows are contract rows: ``dict`` of column -> value in the contract's string form (lists joined with
``;``, ISO times), exactly what :func:`gigmatch.core.contract.serialise_table` writes and
:func:`gigmatch.core.contract.validate_table` reads back. Table and key names come from
:data:`ENTITY_KEYS`, never from a caller, so no name is ever built into SQL from input.
"""

from __future__ import annotations

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
EVENT_COLUMNS = ("event_id", "ts", "job_id", "worker_id", "event", "rating")


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
        strings for missing ratings)."""
        ...

    def counts(self) -> dict[str, int]:
        """Rows per table: workers, jobs, employers, events."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
