//! The PostgreSQL journal's shared queries, and its rows read into typed entries.

use std::time::SystemTime;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::super::stored::{from_millis, millis, read_parameters, status_from_name};
use super::super::{SubmitId, SubmitState, TaskEntry, VideoEntry};
/// The duplicate check of `begin_submit` and `find_duplicate`.
pub(super) const FIND_DUPLICATE: &str = "SELECT id FROM veo_submits
     WHERE fingerprint = $1 AND created_at > $2
       AND submit_state <> 'rejected'
       AND (status IS NULL OR status <> 'failed')
     ORDER BY id DESC LIMIT 1";

/// The condition of [`JournalStore::pending`] on `veo_submits s`, with `$1` = whether videos
/// are saved; the first line is [`crate::journal::FOLLOW_HORIZON`] (seven days, in
/// milliseconds), so that a sweep reads recent history only (through the index on
/// `created_at`).
pub(super) const PENDING: &str =
    "s.created_at > (extract(epoch from clock_timestamp()) * 1000)::bigint - 604800000
     AND s.submit_state = 'submitted' AND s.task_id IS NOT NULL AND (
     s.status IS NULL OR s.status NOT IN ('succeeded', 'failed')
     OR ($1::boolean AND s.status = 'succeeded' AND (
         NOT EXISTS (SELECT 1 FROM veo_videos v WHERE v.submit_id = s.id)
         OR EXISTS (SELECT 1 FROM veo_videos v WHERE v.submit_id = s.id AND v.path IS NULL))))";

/// Every submit since a time that may have been paid.
const SPENDING: &str = "SELECT created_at, video_seconds FROM veo_submits
     WHERE created_at > $1 AND submit_state <> 'rejected'";

/// When and how many seconds of video every submit since `since` that may have been paid asked
/// for.
pub(super) async fn spending(
    c: &impl GenericClient,
    since: SystemTime,
) -> Result<Vec<(SystemTime, u64)>, tokio_postgres::Error> {
    let rows = c
        .query(&c.prepare_cached(SPENDING).await?, &[&millis(since)])
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let seconds: i64 = r.get(1);
            (from_millis(r.get(0)), u64::try_from(seconds).unwrap_or(0))
        })
        .collect())
}

/// The entry with local id `id`, its videos included.
pub(super) async fn load_entry(
    c: &impl GenericClient,
    id: i64,
) -> Result<TaskEntry, tokio_postgres::Error> {
    let row = c
        .query_one(
            &c.prepare_cached(
                "SELECT id, task_id, submit_state, status, progress, failure_reason, submit_error,
                prompt, parameters, created_at, updated_at, save_error, owner
             FROM veo_submits WHERE id = $1",
            )
            .await?,
            &[&id],
        )
        .await?;
    let videos = c
        .query(
            &c.prepare_cached(
                "SELECT idx, url, expires_at, path, bytes FROM veo_videos WHERE submit_id = $1
             ORDER BY idx",
            )
            .await?,
            &[&id],
        )
        .await?;
    Ok(entry_from(&row, videos.iter().map(video_from).collect()))
}

fn entry_from(r: &Row, videos: Vec<VideoEntry>) -> TaskEntry {
    let id: i64 = r.get(0);
    let status: Option<&str> = r.get(3);
    let progress: Option<i64> = r.get(4);
    TaskEntry {
        local_id: SubmitId(id),
        task_id: r.get(1),
        submit_state: SubmitState::from_name(r.get(2)),
        status: status.map(status_from_name),
        progress_percent: progress.and_then(|p| u8::try_from(p).ok()),
        failure_reason: r.get(5),
        submit_error: r.get(6),
        prompt: r.get(7),
        parameters: read_parameters(id, r.get(8)),
        created_at: from_millis(r.get(9)),
        updated_at: from_millis(r.get(10)),
        videos,
        save_error: r.get(11),
        owner: r.get(12),
    }
}

fn video_from(r: &Row) -> VideoEntry {
    let expires: Option<i64> = r.get(2);
    let path: Option<String> = r.get(3);
    let bytes: Option<i64> = r.get(4);
    VideoEntry {
        index: u32::try_from(r.get::<_, i64>(0)).unwrap_or(u32::MAX),
        url: r.get(1),
        expires_at: expires.map(from_millis),
        path: path.map(std::path::PathBuf::from),
        bytes: bytes.and_then(|b| u64::try_from(b).ok()),
    }
}
