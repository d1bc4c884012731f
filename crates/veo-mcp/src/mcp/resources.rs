//! Saved videos as MCP resources. Every video the journal records as saved (it has a `path`)
//! is the resource `veo://videos/<task_id>/<n>.mp4` (`n` from 1, as in the saved files' names;
//! the task id percent-encoded unless it is only `[A-Za-z0-9_-]`). `resources/list` pages
//! through them newest first; `resources/read` sends the file's bytes as a Base64 `blob`, up to
//! [`MAX_READ_BYTES`]; `resources/templates/list` names the one template, [`URI_TEMPLATE`].
//! Every refusal to read is MCP's resource-not-found error saying what is allowed (-32002;
//! rmcp sends it as -32602 to 2026-07-28 clients, as that version asks), except a file over
//! the limit (-32600, naming the limit and the file's path).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rmcp::ErrorData as McpError;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};
use serde_json::json;
use tokio::io::AsyncReadExt as _;
use tokio::sync::Semaphore;

use crate::app::App;
use crate::journal::{SubmitId, TaskEntry};

/// What every video resource's URI starts with.
pub const URI_PREFIX: &str = "veo://videos/";
/// The one resource template: a saved video by task id and number (from 1).
pub const URI_TEMPLATE: &str = "veo://videos/{task_id}/{n}.mp4";
/// The media type of every resource.
pub const MIME_TYPE: &str = "video/mp4";
/// Tasks per `resources/list` page (each lists all of its saved videos).
pub const PAGE_TASKS: u32 = 25;
/// The largest file `resources/read` sends (64 MiB; an 8-second Veo video is a few MB).
/// Larger files are refused: the reply would hold it about three times over (bytes, Base64,
/// JSON).
pub const MAX_READ_BYTES: u64 = 64 * 1024 * 1024;
/// Prompt characters kept in a resource's title.
const TITLE_CHARS: usize = 80;

/// Reads in flight at once, so that concurrent reads bound the memory they take together.
static READS: Semaphore = Semaphore::const_new(2);

/// The URI of video `n` (from 1) of `task_id` (see [`crate::video_name`]).
pub fn video_uri(task_id: &str, n: u32) -> String {
    crate::video_name::name(URI_PREFIX, task_id, n)
}

/// The task id and video number (from 1) a URI names; `None` unless it is exactly what
/// [`video_uri`] makes for some task id and number (one URI per video).
pub fn parse_uri(uri: &str) -> Option<(String, u32)> {
    crate::video_name::parse(URI_PREFIX, uri)
}

/// The one resource template.
pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new(URI_TEMPLATE, "saved-video")
            .with_title("Saved video")
            .with_description(
                "A video this server saved: task_id as returned by generate_transition_video, n from 1.",
            )
            .with_mime_type(MIME_TYPE),
    ])
}

/// One page of saved videos, newest task first; `cursor` is a previous page's `nextCursor`.
pub async fn list(app: &App, cursor: Option<&str>) -> Result<ListResourcesResult, McpError> {
    let before = cursor.map(parse_cursor).transpose()?;
    let mut entries = app
        .journal()
        .list_saved(before, PAGE_TASKS + 1)
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    let more = entries.len() > PAGE_TASKS as usize;
    entries.truncate(PAGE_TASKS as usize);
    let mut page = ListResourcesResult::with_all_items(entries.iter().flat_map(listed).collect());
    page.next_cursor = more
        .then(|| entries.last().map(|e| make_cursor(e.local_id)))
        .flatten();
    Ok(page)
}

/// The saved videos of `entry` as resources.
fn listed(entry: &TaskEntry) -> Vec<Resource> {
    let Some(task_id) = entry.task_id.as_deref() else {
        return Vec::new();
    };
    let mut title: String = entry.prompt.chars().take(TITLE_CHARS).collect();
    if entry.prompt.chars().nth(TITLE_CHARS).is_some() {
        title.push('…');
    }
    entry
        .videos
        .iter()
        .filter_map(|video| {
            let path = video.path.as_ref()?;
            let n = video.index.checked_add(1)?;
            let name = path.file_name().map_or_else(
                || format!("{task_id}-{n}.mp4"),
                |name| name.to_string_lossy().into_owned(),
            );
            let mut resource = Resource::new(video_uri(task_id, n), name)
                .with_description(format!(
                    "Video {n} of task {task_id}, saved at {}",
                    path.display()
                ))
                .with_mime_type(MIME_TYPE);
            // A task adopted from elsewhere has no prompt here: no title then.
            resource.title = (!title.is_empty()).then(|| title.clone());
            resource.size = video.bytes;
            Some(resource)
        })
        .collect()
}

fn make_cursor(id: SubmitId) -> String {
    URL_SAFE_NO_PAD.encode(format!("before:{}", id.0))
}

fn parse_cursor(cursor: &str) -> Result<SubmitId, McpError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("before:")?.parse().ok())
        .map(SubmitId)
        .ok_or_else(|| {
            McpError::invalid_params(
                "invalid cursor: pass a nextCursor from a previous resources/list unchanged",
                None,
            )
        })
}

/// The bytes of the saved video `uri` names, as a Base64 blob.
pub async fn read(app: &App, uri: &str) -> Result<ReadResourceResult, McpError> {
    let shown: String = uri.chars().take(200).collect();
    let not_found = |why: String| {
        McpError::resource_not_found(
            format!(
                "{why}; resources are the saved videos resources/list shows, as {URI_TEMPLATE} (n from 1)"
            ),
            Some(json!({ "uri": shown })),
        )
    };
    let Some((task_id, n)) = parse_uri(uri) else {
        return Err(not_found(format!("not a veo video URI: {shown}")));
    };
    let entry = app
        .journal()
        .get(&task_id)
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?
        .ok_or_else(|| not_found(format!("no task {task_id} in this server's journal")))?;
    let count = entry.videos.len();
    let video = entry
        .videos
        .iter()
        .find(|v| u64::from(v.index) + 1 == u64::from(n))
        .ok_or_else(|| not_found(format!("task {task_id} has no video {n} ({count} known)")))?;
    let path = video.path.as_ref().ok_or_else(|| {
        not_found(format!(
            "video {n} of task {task_id} is not saved (get_task_result saves it)"
        ))
    })?;
    let _permit = READS
        .acquire()
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    let gone = |e: std::io::Error| {
        not_found(format!(
            "video {n} of task {task_id} is no longer on disk at {} ({e})",
            path.display()
        ))
    };
    let mut file = tokio::fs::File::open(path).await.map_err(gone)?;
    let size = file.metadata().await.map_err(gone)?.len();
    let too_large = |size: u64| {
        McpError::invalid_request(
            format!(
                "video {n} of task {task_id} is {size} bytes, more than the {MAX_READ_BYTES} bytes resources/read sends; it is at {} on the server's machine",
                path.display()
            ),
            Some(json!({ "uri": shown, "size": size, "limit": MAX_READ_BYTES })),
        )
    };
    if size > MAX_READ_BYTES {
        return Err(too_large(size));
    }
    // The file may grow after its size was read: never hold more than the limit and a byte.
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or_default());
    (&mut file)
        .take(MAX_READ_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(gone)?;
    if bytes.len() as u64 > MAX_READ_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    // Tens of megabytes to encode: on the blocking pool, not the thread answering requests.
    let blob = tokio::task::spawn_blocking(move || STANDARD.encode(bytes))
        .await
        .map_err(|e| McpError::internal_error(e.to_string(), None))?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::blob(blob, uri).with_mime_type(MIME_TYPE),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_and_only_the_canonical_spelling_is_accepted() {
        assert_eq!(video_uri("abc_D-9", 1), "veo://videos/abc_D-9/1.mp4");
        assert_eq!(video_uri("a b/é", 2), "veo://videos/a%20b%2F%C3%A9/2.mp4");
        for (task, n) in [("abc_D-9", 1), ("a b/é", 2), ("x~superseded-3", 12)] {
            assert_eq!(parse_uri(&video_uri(task, n)), Some((task.to_string(), n)));
        }
        for bad in [
            "veo://videos/t/0.mp4",
            "veo://videos/t/01.mp4",
            "veo://videos/t/1.mov",
            "veo://videos//1.mp4",
            "veo://videos/t/x/1.mp4",
            "veo://videos/a%2/1.mp4",
            "veo://videos/a%zz/1.mp4",
            "veo://videos/%FF/1.mp4",
            "veo://videos/a%2f/1.mp4",
            "veo://videos/a%41/1.mp4",
            "veo://videos/t/99999999999.mp4",
            "file:///t/1.mp4",
            "veo://videos/t",
        ] {
            assert_eq!(parse_uri(bad), None, "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip_and_others_are_refused() {
        let cursor = make_cursor(SubmitId(42));
        assert_eq!(parse_cursor(&cursor).ok(), Some(SubmitId(42)));
        for bad in ["", "42", "!!", &URL_SAFE_NO_PAD.encode("after:1")] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
