//! Test-control markers written in the prompt, e.g. `[mock:fail=content filtered]`.
//!
//! | marker | effect |
//! |---|---|
//! | `[mock:fail=REASON]` | the task ends `TASK_STATUS_FAILED` with `REASON` |
//! | `[mock:succeed]` | the task succeeds even when `failure_rate` would fail it |
//! | `[mock:duration_ms=N]` | submit to terminal state takes N ms (10 % queued, 90 % processing) |
//! | `[mock:queue_ms=N]` | the task stays queued N ms |
//! | `[mock:processing_ms=N]` | the task processes N ms |
//! | `[mock:ttl_s=N]` / `[mock:ttl_ms=N]` | result links live N seconds / milliseconds |
//!
//! An unknown `[mock:...]` marker is rejected with 400 so a typo does not pass silently.

/// Overrides taken from the prompt's markers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Markers {
    /// `[mock:fail=REASON]`.
    pub fail: Option<String>,
    /// `[mock:succeed]`.
    pub succeed: bool,
    /// Queue time in ms, from `queue_ms` or `duration_ms`.
    pub queue_ms: Option<u64>,
    /// Processing time in ms, from `processing_ms` or `duration_ms`.
    pub processing_ms: Option<u64>,
    /// Link lifetime in ms, from `ttl_s` or `ttl_ms`.
    pub ttl_ms: Option<u64>,
}

const OPEN: &str = "[mock:";

/// Reads every `[mock:key=value]` marker of `prompt`; the error names the bad marker.
pub fn parse(prompt: &str) -> Result<Markers, String> {
    let mut markers = Markers::default();
    let mut rest = prompt;
    while let Some(start) = rest.find(OPEN) {
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find(']') else {
            return Err(format!(
                "unterminated marker `{}`",
                truncate(&rest[start..])
            ));
        };
        let body = &after[..end];
        let (key, value) = match body.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (body.trim(), None),
        };
        apply(&mut markers, key, value)
            .map_err(|e| format!("marker `[mock:{}]`: {e}", truncate(body)))?;
        rest = &after[end + 1..];
    }
    Ok(markers)
}

fn apply(m: &mut Markers, key: &str, value: Option<&str>) -> Result<(), String> {
    let number = |v: Option<&str>| -> Result<u64, String> {
        let v = v.ok_or("needs a value, e.g. =1000")?;
        v.parse::<u64>()
            .map_err(|_| format!("`{v}` is not a non-negative integer"))
    };
    match key {
        "fail" => {
            let reason = value.unwrap_or("").to_owned();
            m.fail = Some(if reason.is_empty() {
                "generation failed".to_owned()
            } else {
                reason
            });
        }
        "succeed" => m.succeed = true,
        "duration_ms" => {
            let total = number(value)?;
            m.queue_ms = Some(total / 10);
            m.processing_ms = Some(total - total / 10);
        }
        "queue_ms" => m.queue_ms = Some(number(value)?),
        "processing_ms" => m.processing_ms = Some(number(value)?),
        "ttl_ms" => m.ttl_ms = Some(number(value)?),
        "ttl_s" => m.ttl_ms = Some(number(value)?.saturating_mul(1000)),
        _ => {
            return Err(
                "unknown marker; known: fail, succeed, duration_ms, queue_ms, processing_ms, ttl_s, ttl_ms"
                    .to_owned(),
            );
        }
    }
    Ok(())
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(60) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_markers() {
        let m =
            parse("a cat [mock:fail=policy violation] walks [mock:ttl_s=2][mock:duration_ms=1000]")
                .unwrap();
        assert_eq!(m.fail.as_deref(), Some("policy violation"));
        assert_eq!(m.ttl_ms, Some(2000));
        assert_eq!(m.queue_ms, Some(100));
        assert_eq!(m.processing_ms, Some(900));
        assert_eq!(parse("plain prompt").unwrap(), Markers::default());
    }

    #[test]
    fn rejects_bad_markers() {
        assert!(
            parse("[mock:fial=x]")
                .unwrap_err()
                .contains("unknown marker")
        );
        assert!(
            parse("[mock:ttl_s=abc]")
                .unwrap_err()
                .contains("not a non-negative")
        );
        assert!(parse("[mock:ttl_s=1").unwrap_err().contains("unterminated"));
        assert!(
            parse("[mock:queue_ms]")
                .unwrap_err()
                .contains("needs a value")
        );
    }
}
