//! How a saved video is named outside the disk: `<task_id>/<n>.mp4` (`n` from 1, as in the
//! saved files' names), the task id percent-encoded unless it is only `[A-Za-z0-9_-]`. MCP
//! resources put `veo://videos/` before it, signed HTTP links `/videos/`. One spelling per
//! video: [`parse`] accepts only what [`name`] makes, so `..`, `%2e` and the like name nothing.

use std::fmt::Write as _;

/// `<task_id>/<n>.mp4` for video `n` (from 1) of `task_id`, after `prefix`.
pub fn name(prefix: &str, task_id: &str, n: u32) -> String {
    let mut named = String::from(prefix);
    for byte in task_id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' {
            named.push(char::from(byte));
        } else {
            let _ = write!(named, "%{byte:02X}");
        }
    }
    let _ = write!(named, "/{n}.mp4");
    named
}

/// The task id and video number `named` names after `prefix`; `None` unless it is exactly what
/// [`name`] makes for some task id and number.
pub fn parse(prefix: &str, named: &str) -> Option<(String, u32)> {
    let rest = named.strip_prefix(prefix)?;
    let (encoded, file) = rest.split_once('/')?;
    let digits = file.strip_suffix(".mp4")?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = digits.parse().ok()?;
    let mut bytes = Vec::with_capacity(encoded.len());
    let mut chars = encoded.bytes();
    while let Some(byte) = chars.next() {
        if byte == b'%' {
            let hex = [chars.next()?, chars.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(byte);
        }
    }
    let task_id = String::from_utf8(bytes).ok()?;
    (!task_id.is_empty() && name(prefix, &task_id, n) == named).then_some((task_id, n))
}
