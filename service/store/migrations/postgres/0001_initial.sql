-- gigmatch on PostgreSQL, schema version 1. Rows are the contract's JSON rows as text (what the
-- SQLite store keeps too); `pos` is the first-stored order, which an update keeps.
CREATE TABLE workers (pos BIGINT GENERATED ALWAYS AS IDENTITY, worker_id TEXT PRIMARY KEY, row TEXT NOT NULL, updated DOUBLE PRECISION);
CREATE TABLE jobs (pos BIGINT GENERATED ALWAYS AS IDENTITY, job_id TEXT PRIMARY KEY, row TEXT NOT NULL, updated DOUBLE PRECISION);
CREATE TABLE employers (pos BIGINT GENERATED ALWAYS AS IDENTITY, employer_id TEXT PRIMARY KEY, row TEXT NOT NULL, updated DOUBLE PRECISION);
CREATE TABLE trades (pos BIGINT GENERATED ALWAYS AS IDENTITY, trade TEXT PRIMARY KEY, row TEXT NOT NULL, updated DOUBLE PRECISION);
CREATE TABLE certificates (pos BIGINT GENERATED ALWAYS AS IDENTITY, certificate TEXT PRIMARY KEY, row TEXT NOT NULL, updated DOUBLE PRECISION);
CREATE INDEX workers_pos ON workers(pos);
CREATE INDEX jobs_pos ON jobs(pos);
-- events: seq is the acceptance order; writers hold the feed lock, so seq order is commit order and a
-- replica following `seq > cursor` never skips a row committed late
CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE, event_id TEXT PRIMARY KEY, ts TEXT NOT NULL,
    job_id TEXT NOT NULL, worker_id TEXT NOT NULL, event TEXT NOT NULL, rating DOUBLE PRECISION,
    received DOUBLE PRECISION NOT NULL);
CREATE INDEX events_job ON events(job_id);
CREATE TABLE streams (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream TEXT NOT NULL, row TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL);
CREATE INDEX streams_by_name ON streams(stream, seq);
CREATE TABLE records (
    kind TEXT NOT NULL, key TEXT NOT NULL, row TEXT NOT NULL, updated DOUBLE PRECISION NOT NULL,
    pos BIGINT GENERATED ALWAYS AS IDENTITY, PRIMARY KEY (kind, key));
CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL);
CREATE TABLE changes (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tbl TEXT NOT NULL, key TEXT NOT NULL, row TEXT,
    created DOUBLE PRECISION NOT NULL);
CREATE INDEX changes_created ON changes(created);
