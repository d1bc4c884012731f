//! Reading the SQLite journal's rows into typed entries.

use std::time::SystemTime;

use rusqlite::{Connection, params};

use super::super::stored::{from_millis, millis, read_parameters, status_from_name};
use super::super::{SubmitId, SubmitState, TaskEntry, VideoEntry};

/// Every submit since a time that may have been paid.
const SPENDING: &str = "SELECT created_at, video_seconds FROM submits
     WHERE created_at > ?1 AND submit_state != 'rejected'";

/// When and how many seconds of video every submit since `since` that may have been paid asked
/// for.
pub(super) fn spending(
    c: &Connection,
    since: SystemTime,
) -> rusqlite::Result<Vec<(SystemTime, u64)>> {
    c.prepare_cached(SPENDING)?
        .query_map(params![millis(since)], |r| {
            let seconds: i64 = r.get(1)?;
            Ok((from_millis(r.get(0)?), u64::try_from(seconds).unwrap_or(0)))
        })?
        .collect()
}

/// The entry with local id `id`, its videos included.
pub(super) fn load_entry(c: &Connection, id: i64) -> rusqlite::Result<TaskEntry> {
    let mut entry = c
        .prepare_cached(
            "SELECT id, task_id, submit_state, status, progress,
                COALESCE(failure_reason, CASE WHEN status = 'failed' THEN detail END),
                COALESCE(submit_error,
                    CASE WHEN submit_state IN ('rejected', 'outcome_unknown') THEN detail END),
                prompt, parameters, created_at, updated_at, save_error, owner
             FROM submits WHERE id = ?1",
        )?
        .query_row(params![id], |r| {
            let status: Option<String> = r.get(3)?;
            let progress: Option<i64> = r.get(4)?;
            let parameters: String = r.get(8)?;
            Ok(TaskEntry {
                local_id: SubmitId(r.get(0)?),
                task_id: r.get(1)?,
                submit_state: SubmitState::from_name(&r.get::<_, String>(2)?),
                status: status.as_deref().map(status_from_name),
                progress_percent: progress.and_then(|p| u8::try_from(p).ok()),
                failure_reason: r.get(5)?,
                submit_error: r.get(6)?,
                prompt: r.get(7)?,
                parameters: read_parameters(id, &parameters),
                created_at: from_millis(r.get(9)?),
                updated_at: from_millis(r.get(10)?),
                videos: Vec::new(),
                save_error: r.get(11)?,
                owner: r.get(12)?,
            })
        })?;
    let mut stmt = c.prepare_cached(
        "SELECT idx, url, expires_at, path, bytes FROM videos WHERE submit_id = ?1 ORDER BY idx",
    )?;
    entry.videos = stmt
        .query_map(params![id], |r| {
            let expires: Option<i64> = r.get(2)?;
            let path: Option<String> = r.get(3)?;
            let bytes: Option<i64> = r.get(4)?;
            Ok(VideoEntry {
                index: u32::try_from(r.get::<_, i64>(0)?).unwrap_or(u32::MAX),
                url: r.get(1)?,
                expires_at: expires.map(from_millis),
                path: path.map(std::path::PathBuf::from),
                bytes: bytes.and_then(|b| u64::try_from(b).ok()),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(entry)
}
