-- Version 3: each submit's seconds of video (duration x samples, what it is billed by), for
-- spend limits over a rolling window.
ALTER TABLE submits ADD COLUMN video_seconds INTEGER NOT NULL DEFAULT 0;
UPDATE submits SET video_seconds =
    COALESCE(json_extract(parameters, '$.duration_seconds'), 0)
    * COALESCE(json_extract(parameters, '$.sample_count'), 0)
WHERE parameters != 'null';
CREATE INDEX IF NOT EXISTS submits_by_time ON submits (created_at)
