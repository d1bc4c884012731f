-- Version 1: submits, their status history and their videos.
CREATE TABLE IF NOT EXISTS submits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    parameters TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    submit_state TEXT NOT NULL,
    task_id TEXT UNIQUE,
    status TEXT,
    progress INTEGER,
    detail TEXT,
    save_error TEXT
);
CREATE INDEX IF NOT EXISTS submits_by_fingerprint ON submits (fingerprint, created_at);
CREATE TABLE IF NOT EXISTS status_events (
    submit_id INTEGER NOT NULL REFERENCES submits(id),
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    platform_status TEXT NOT NULL,
    progress INTEGER
);
CREATE TABLE IF NOT EXISTS videos (
    submit_id INTEGER NOT NULL REFERENCES submits(id),
    idx INTEGER NOT NULL,
    url TEXT NOT NULL,
    expires_at INTEGER,
    path TEXT,
    bytes INTEGER,
    saved_at INTEGER,
    PRIMARY KEY (submit_id, idx)
)
