-- The store as the first versions wrote it (IF NOT EXISTS: stores older than the migration runner
-- already hold these tables and are adopted at version 1).
CREATE TABLE IF NOT EXISTS workers (worker_id TEXT PRIMARY KEY, row TEXT NOT NULL, updated REAL);
CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, row TEXT NOT NULL, updated REAL);
CREATE TABLE IF NOT EXISTS employers (employer_id TEXT PRIMARY KEY, row TEXT NOT NULL, updated REAL);
CREATE TABLE IF NOT EXISTS trades (trade TEXT PRIMARY KEY, row TEXT NOT NULL, updated REAL);
CREATE TABLE IF NOT EXISTS certificates (certificate TEXT PRIMARY KEY, row TEXT NOT NULL, updated REAL);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, ts TEXT NOT NULL, job_id TEXT NOT NULL, worker_id TEXT NOT NULL,
    event TEXT NOT NULL, rating REAL, received REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id);
CREATE TABLE IF NOT EXISTS streams (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, row TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS streams_by_name ON streams(stream, seq);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, key TEXT NOT NULL, row TEXT NOT NULL, updated REAL NOT NULL, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL);
