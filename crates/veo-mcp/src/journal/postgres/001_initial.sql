-- Version 1: submits, their status history, their videos and the leases of their followers.
-- Times are milliseconds since the Unix epoch, as in the SQLite journal.
CREATE TABLE veo_submits (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt TEXT NOT NULL,
    parameters TEXT NOT NULL,
    video_seconds BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    submit_state TEXT NOT NULL,
    task_id TEXT UNIQUE,
    status TEXT,
    progress BIGINT,
    failure_reason TEXT,
    submit_error TEXT,
    save_error TEXT,
    owner TEXT,
    lease_holder TEXT,
    lease_until BIGINT
);
CREATE INDEX veo_submits_by_fingerprint ON veo_submits (fingerprint, created_at);
CREATE INDEX veo_submits_by_time ON veo_submits (created_at);
CREATE INDEX veo_submits_unfinished ON veo_submits (id)
    WHERE submit_state = 'submitted' AND (status IS NULL OR status <> 'failed');
CREATE TABLE veo_status_events (
    submit_id BIGINT NOT NULL REFERENCES veo_submits (id),
    at BIGINT NOT NULL,
    status TEXT NOT NULL,
    platform_status TEXT NOT NULL,
    progress BIGINT
);
CREATE INDEX veo_status_events_by_submit ON veo_status_events (submit_id);
CREATE TABLE veo_videos (
    submit_id BIGINT NOT NULL REFERENCES veo_submits (id),
    idx BIGINT NOT NULL,
    url TEXT NOT NULL,
    expires_at BIGINT,
    path TEXT,
    bytes BIGINT,
    saved_at BIGINT,
    PRIMARY KEY (submit_id, idx)
);
