-- The change feed: every entity write appends one row per key in the same transaction, so that
-- other processes over the same file follow writes incrementally (row = NULL: deleted).
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, key TEXT NOT NULL, row TEXT,
    created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS changes_created ON changes(created);
