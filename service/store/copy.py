"""Copying a whole store between backends (``gigmatch store copy``): a county grows from its SQLite
file into PostgreSQL, or takes a PostgreSQL database back into one file, without losing history.

What is copied, in order: the vocabulary tables, the entity tables (in stored order, so that a
restart over the copy builds the same snapshot), the event log (in acceptance order, ids kept, so
re-posting an event to the copy is still a duplicate), every stream (rows in order; sequence numbers
are the target's own, so a consumer's stream cursor restarts from 0) and every record kind. Leases
and the change feed are not copied: they describe running processes, not the market.
"""

from __future__ import annotations

from service.store.repository import ENTITY_KEYS, MarketRepository

BATCH = 10_000


def describe(repo: MarketRepository) -> dict:
    """What a store holds: backend URL, schema version, rows per table, streams and record kinds."""
    return {
        "store": repo.url,
        "schema_version": repo.schema_version(),
        "counts": repo.counts(),
        "streams": repo.stream_names(),
        "records": repo.record_kinds(),
        "last_change": repo.last_change(),
    }


def copy_store(source: MarketRepository, target: MarketRepository, batch: int = BATCH) -> dict[str, int]:
    """Copy everything of ``source`` into the empty ``target``; returns rows copied per part.

    Raises
    ------
    ValueError
        When the target already holds workers, jobs, employers or events (copying into a live store
        would merge two markets silently).
    """
    held = {k: v for k, v in target.counts().items() if v}
    if held:
        what = ", ".join(f"{v} {k}" for k, v in held.items())
        raise ValueError(f"target store {target.url} is not empty ({what}); copy into an empty store")
    copied: dict[str, int] = {}
    for table in ("certificates", "trades", *(t for t in ENTITY_KEYS if t not in ("certificates", "trades"))):
        rows = source.read_rows(table)
        for start in range(0, len(rows), batch):
            target.upsert_rows(table, rows[start : start + batch])
        copied[table] = len(rows)
    after, n = 0, 0
    while True:
        rows, after = source.events_after(after, limit=batch)
        if not rows:
            break
        n += target.add_events([tuple(r) for r in rows])
    copied["events"] = n
    for stream in source.stream_names():
        after, n = 0, 0
        while True:
            page = source.read_stream(stream, after=after, limit=batch)
            if not page:
                break
            target.append(stream, [row for _, row in page])
            after, n = page[-1][0], n + len(page)
        copied[f"stream {stream}"] = n
    for kind in source.record_kinds():
        docs = source.read_records(kind)
        target.put_records(kind, docs)
        copied[f"records {kind}"] = len(docs)
    return copied
