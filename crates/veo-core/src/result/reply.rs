//! The task-result reply read straight from its bytes, borrowing what it can, with no
//! `serde_json::Value` tree in between: one poll of a running task is the most frequent call
//! veo makes. Wherever the `Value` reading ([`TaskResult::from_json`]) gives a result, this
//! gives the same; a repeated key makes it give up, and the caller reads the reply through a
//! `Value` instead, so the tolerant reading stays the one reference. One difference, on
//! purpose: what it skips (fields veo does not read, values of the wrong shape) is checked as
//! JSON syntax only, so a number out of range or an invalid string escape there does not fail
//! the reply as it fails a `Value`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::time::SystemTime;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

use super::{Fields, MediaFile, TaskResult, lenient_number_u64, lenient_str_u64, lenient_text};

/// Reads a task-result reply; `None` when the reply is not a JSON object of the expected shape
/// (then [`TaskResult::from_json`] over a `Value` decides).
pub(super) fn read(bytes: &[u8], task_id: &str, fetched_at: SystemTime) -> Option<TaskResult> {
    let reply: Object<Body<'_>> = serde_json::from_slice(bytes).ok()?;
    let reply = reply.given()?;
    let task = reply.task.given().unwrap_or_default();
    let text = |field: &Option<Scalar<'_>>| field.as_ref().and_then(Scalar::string);
    let number = |field: &Option<Scalar<'_>>| field.as_ref().and_then(Scalar::u64);
    let files = |list: MediaList<'_>, prefix: Prefix| -> Vec<MediaFile> {
        list.given()
            .unwrap_or_default()
            .into_iter()
            .filter_map(Object::given)
            .filter_map(|item| item.file(prefix, fetched_at))
            .collect()
    };
    let fields = Fields {
        task_id: text(&task.task_id),
        raw_status: text(&task.status),
        reason: text(&task.reason),
        eta_seconds: number(&task.eta),
        progress_percent: number(&task.progress_percent),
        videos: files(reply.videos, Prefix::Video),
        images: files(reply.images, Prefix::Image),
        audios: files(reply.audios, Prefix::Audio),
        seed: reply.extra.given().and_then(|extra| number(&extra.seed)),
    };
    Some(fields.into_result(task_id, fetched_at))
}

/// `videos`, `images` or `audios`: a list whose entries that are not objects are skipped.
type MediaList<'a> = List<Vec<Object<Media<'a>>>>;

/// The reply's top level (an object, or the `Value` path reports what it is instead).
#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow, default)]
    task: Object<Task<'a>>,
    #[serde(borrow, default)]
    videos: MediaList<'a>,
    #[serde(borrow, default)]
    images: MediaList<'a>,
    #[serde(borrow, default)]
    audios: MediaList<'a>,
    #[serde(borrow, default)]
    extra: Object<Extra<'a>>,
}

#[derive(Default, Deserialize)]
struct Task<'a> {
    #[serde(borrow)]
    task_id: Option<Scalar<'a>>,
    #[serde(borrow)]
    status: Option<Scalar<'a>>,
    #[serde(borrow)]
    reason: Option<Scalar<'a>>,
    #[serde(borrow)]
    eta: Option<Scalar<'a>>,
    #[serde(borrow)]
    progress_percent: Option<Scalar<'a>>,
}

#[derive(Deserialize)]
struct Extra<'a> {
    #[serde(borrow)]
    seed: Option<Scalar<'a>>,
}

/// One entry of `videos`, `images` or `audios`; each list reads its own prefix's fields.
#[derive(Deserialize)]
struct Media<'a> {
    #[serde(borrow)]
    video_url: Option<Scalar<'a>>,
    #[serde(borrow)]
    video_url_ttl: Option<Scalar<'a>>,
    #[serde(borrow)]
    video_type: Option<Scalar<'a>>,
    #[serde(borrow)]
    image_url: Option<Scalar<'a>>,
    #[serde(borrow)]
    image_url_ttl: Option<Scalar<'a>>,
    #[serde(borrow)]
    image_type: Option<Scalar<'a>>,
    #[serde(borrow)]
    audio_url: Option<Scalar<'a>>,
    #[serde(borrow)]
    audio_url_ttl: Option<Scalar<'a>>,
    #[serde(borrow)]
    audio_type: Option<Scalar<'a>>,
}

#[derive(Clone, Copy)]
enum Prefix {
    Video,
    Image,
    Audio,
}

impl Media<'_> {
    fn file(&self, prefix: Prefix, fetched_at: SystemTime) -> Option<MediaFile> {
        let (url, ttl, file_type) = match prefix {
            Prefix::Video => (&self.video_url, &self.video_url_ttl, &self.video_type),
            Prefix::Image => (&self.image_url, &self.image_url_ttl, &self.image_type),
            Prefix::Audio => (&self.audio_url, &self.audio_url_ttl, &self.audio_type),
        };
        let url = url.as_ref().and_then(Scalar::string)?;
        Some(MediaFile::fetched(
            url,
            file_type.as_ref().and_then(Scalar::string),
            ttl.as_ref().and_then(Scalar::u64),
            fetched_at,
        ))
    }
}

/// A field's value as the tolerant reading sees it: a string, a number, or something else
/// (`null`, a boolean, an object, an array), which reads as absent.
enum Scalar<'a> {
    Text(Cow<'a, str>),
    Number(Number),
    Other,
}

impl Scalar<'_> {
    /// A non-empty string from a string or a number (as `lenient_string`).
    fn string(&self) -> Option<String> {
        match self {
            Scalar::Text(s) => lenient_text(s),
            Scalar::Number(n) => Some(n.to_string()),
            Scalar::Other => None,
        }
    }

    /// A non-negative integer from a number or a numeric string (as `lenient_u64`).
    fn u64(&self) -> Option<u64> {
        match self {
            Scalar::Number(n) => lenient_number_u64(n),
            Scalar::Text(s) => lenient_str_u64(s),
            Scalar::Other => None,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Text(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Number(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Number(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar<'a>, E> {
                Ok(Number::from_f64(v).map_or(Scalar::Other, Scalar::Number))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
            fn visit_none<E>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'a>, D::Error> {
                Scalar::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        deserializer.deserialize_any(ScalarVisitor(PhantomData))
    }
}

/// `T` when the value is a JSON object; anything else reads as absent, as `Value::get` on it
/// would.
type Object<T> = Loose<T, true>;

/// `T` when the value is a JSON array; anything else reads as absent.
type List<T> = Loose<T, false>;

/// `T` when the value has the JSON shape `T` is read from (an object when `OBJECT`, else an
/// array), absent otherwise. A struct is never read from an array, nor a list from an object.
#[derive(Default)]
enum Loose<T, const OBJECT: bool> {
    Given(T),
    #[default]
    Absent,
}

impl<T, const OBJECT: bool> Loose<T, OBJECT> {
    fn given(self) -> Option<T> {
        match self {
            Loose::Given(value) => Some(value),
            Loose::Absent => None,
        }
    }
}

impl<'de, T: Deserialize<'de>, const OBJECT: bool> Deserialize<'de> for Loose<T, OBJECT> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LooseVisitor<T, const OBJECT: bool>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const OBJECT: bool> Visitor<'de> for LooseVisitor<T, OBJECT> {
            type Value = Loose<T, OBJECT>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                if OBJECT {
                    T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Loose::Given)
                } else {
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(Loose::Absent)
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                if OBJECT {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Loose::Absent)
                } else {
                    T::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Loose::Given)
                }
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Loose::Absent)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Loose::Absent)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Loose::Absent)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Loose::Absent)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Loose::Absent)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Loose::Absent)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Loose::Absent)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                Loose::deserialize(d)
            }
        }
        deserializer.deserialize_any(LooseVisitor::<T, OBJECT>(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TaskStatus, UnreadableReply};
    use serde_json::Value;
    use std::time::Duration;

    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    /// What the `Value` path makes of `body`, if it is a JSON object.
    fn through_value(body: &str) -> Option<TaskResult> {
        let value: Value = serde_json::from_str(body).ok()?;
        value
            .is_object()
            .then(|| TaskResult::from_json(&value, "asked", at()))
    }

    #[test]
    fn reads_what_the_value_path_reads() {
        let bodies = [
            r#"{"extra": {"seed": "123", "debug_info": {"submit_time_ms": "1710000000000"}},
                "task": {"task_id": "t1", "task_type": "x", "status": "TASK_STATUS_SUCCEED", "reason": "", "eta": 0, "progress_percent": 100},
                "images": [{"image_url": "https://i", "image_url_ttl": 3600, "image_type": "png"}],
                "videos": [{"video_url": "https://v", "video_url_ttl": "3600", "video_type": "mp4"}],
                "audios": [{"audio_url": "https://a", "audio_url_ttl": "3600", "audio_type": "wav", "audio_metadata": {"text": "hi"}}]}"#,
            r#"{"extra": {"seed": 77}, "task": {"status": "TASK_STATUS_PROCESSING", "eta": "42", "progress_percent": "37.6"},
                "videos": [{"video_url": "https://v", "video_url_ttl": 600}]}"#,
            r#"{}"#,
            r#"{"task": {"status": "TASK_STATUS_PAUSED", "eta": null, "progress_percent": "n/a", "new_field": [1]},
                "videos": [{"video_url": ""}, {"video_url_ttl": "3600"}, {"video_url": "https://ok"}],
                "images": null, "surprise": {"a": 1}}"#,
            // Fields of unexpected shapes read as absent, wherever they are.
            r#"{"task": ["TASK_STATUS_SUCCEED"], "videos": {"video_url": "https://v"}, "extra": [1]}"#,
            r#"{"task": "done", "videos": "https://v", "images": 3, "audios": true, "extra": null}"#,
            r#"{"task": {"status": 3, "task_id": 12, "reason": {"x": 1}, "eta": -4, "progress_percent": 250.4},
                "videos": ["https://v", 1, null, [], {"video_url": 5, "video_url_ttl": -1, "video_type": ["mp4"]}],
                "extra": {"seed": 1.5e3}}"#,
            r#"{"task": {"status": true, "eta": 1e300, "progress_percent": "  7 "}, "extra": {"seed": {"n": 1}}}"#,
            // Escapes make owned strings; the result is the same.
            r#"{"task": {"task_id": "t\u00e9", "status": "TASK_STATUS_SUCCEED", "reason": "a \"b\""},
                "videos": [{"video_url": "https:\/\/v\/1", "video_url_ttl": "0", "video_type": "mp\u0034"}]}"#,
            // An image entry in the video list is no video, and the other way round.
            r#"{"videos": [{"image_url": "https://i"}], "images": [{"video_url": "https://v"}]}"#,
        ];
        for body in bodies {
            let read = read(body.as_bytes(), "asked", at());
            assert!(read.is_some(), "read without a Value: {body}");
            assert_eq!(read, through_value(body), "{body}");
            assert_eq!(
                TaskResult::from_slice(body.as_bytes(), "asked", at()).ok(),
                through_value(body)
            );
        }
    }

    #[test]
    fn leaves_repeated_keys_and_non_objects_to_the_value_path() {
        let repeated =
            r#"{"task": {"status": "TASK_STATUS_QUEUED", "status": "TASK_STATUS_SUCCEED"}}"#;
        assert_eq!(read(repeated.as_bytes(), "asked", at()), None);
        let result = TaskResult::from_slice(repeated.as_bytes(), "asked", at()).ok();
        assert_eq!(result, through_value(repeated));
        assert_eq!(result.map(|r| r.status), Some(TaskStatus::Succeeded));
        for body in [
            r#"[{"task": {}}]"#,
            r#""done""#,
            "null",
            "{",
            "{} x",
            "",
            "{,}",
        ] {
            assert_eq!(read(body.as_bytes(), "asked", at()), None, "{body}");
            assert_eq!(
                TaskResult::from_slice(body.as_bytes(), "asked", at()).ok(),
                None
            );
        }
    }

    #[test]
    fn an_unreadable_reply_says_why_as_a_value_parse_does() {
        for body in ["{", "", "{} x", "{,}"] {
            let expected = serde_json::from_slice::<Value>(body.as_bytes())
                .unwrap_err()
                .to_string();
            match TaskResult::from_slice(body.as_bytes(), "asked", at()) {
                Err(UnreadableReply::NotJson(e)) => assert_eq!(e.to_string(), expected),
                other => panic!("{body:?}: {other:?}"),
            }
        }
        for body in [r#"[{"task": {}}]"#, r#""done""#, "null"] {
            let read = TaskResult::from_slice(body.as_bytes(), "asked", at());
            assert!(
                matches!(read, Err(UnreadableReply::NotAnObject)),
                "{body}: {read:?}"
            );
        }
    }

    #[test]
    fn skipped_values_are_checked_as_syntax_only() {
        // A `Value` refuses these (a number out of range, a lone surrogate); veo reads none of
        // them, so the reply's status still counts.
        for junk in [r#"1e400"#, r#""\ud800""#, r#"{"deep": [1e999]}"#] {
            let body = format!(r#"{{"task": {{"status": "TASK_STATUS_SUCCEED"}}, "x": {junk}}}"#);
            assert_eq!(through_value(&body), None, "{body}");
            let read = TaskResult::from_slice(body.as_bytes(), "asked", at()).ok();
            assert_eq!(
                read.map(|r| r.status),
                Some(TaskStatus::Succeeded),
                "{body}"
            );
        }
    }
}
