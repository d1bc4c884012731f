//! The request model: what a caller asks for, in caller terms.
//!
//! [`TransitionRequest`] carries every field of the submit endpoint plus the [`Model`] choice. The
//! three models share one body except for two wire names (Lite says `duration` and
//! `last_frame_image`); [`Model`] owns that mapping so callers never see it.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A closed set of values, such as [`Model`] or [`Resolution`]: every value and its name in one
/// place, so validation messages, schemas and command-line parsers can list them without
/// spelling them out again.
///
/// The names are the ones serde reads and writes (for [`DurationSeconds`], the number as text).
pub trait ClosedSet: Sized + Copy + 'static {
    /// Every value, in documented order.
    const ALL: &'static [Self];

    /// The name callers write (`"720p"`, `"16:9"`, `"4"` …).
    fn as_str(self) -> &'static str;

    /// The value for a name as written by [`ClosedSet::as_str`].
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == name)
    }
}

/// Implements [`ClosedSet`] and `Display` for an enum from its variants and names, listed once
/// in documented order.
macro_rules! closed_set {
    ($set:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl ClosedSet for $set {
            const ALL: &'static [Self] = &[$($set::$variant),+];

            fn as_str(self) -> &'static str {
                match self {
                    $($set::$variant => $name),+
                }
            }
        }

        impl fmt::Display for $set {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(ClosedSet::as_str(*self))
            }
        }
    };
}

/// Which Veo 3.1 variant generates the video. Each has its own endpoint and price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Model {
    /// Veo 3.1: the full model, best quality.
    #[default]
    #[serde(rename = "veo-3.1")]
    Veo31,
    /// Veo 3.1 Fast: faster and cheaper.
    #[serde(rename = "veo-3.1-fast")]
    Veo31Fast,
    /// Veo 3.1 Lite: the lightest variant.
    #[serde(rename = "veo-3.1-lite")]
    Veo31Lite,
}

closed_set!(Model {
    Veo31 => "veo-3.1",
    Veo31Fast => "veo-3.1-fast",
    Veo31Lite => "veo-3.1-lite",
});

impl Model {
    /// Every model, in the order they are documented (the same as [`ClosedSet::ALL`]).
    pub const ALL: [Model; 3] = [Model::Veo31, Model::Veo31Fast, Model::Veo31Lite];

    /// The name callers use for this model (`veo-3.1`, `veo-3.1-fast`, `veo-3.1-lite`).
    pub fn as_str(self) -> &'static str {
        ClosedSet::as_str(self)
    }

    /// Parses a model name as written by [`Model::as_str`].
    pub fn from_name(name: &str) -> Option<Model> {
        <Model as ClosedSet>::from_name(name)
    }

    /// The submit endpoint's path, relative to the base URL.
    pub fn endpoint_path(self) -> &'static str {
        match self {
            Model::Veo31 => "/v3/async/veo-3.1-generate-firstlastframe",
            Model::Veo31Fast => "/v3/async/veo-3.1-fast-generate-firstlastframe",
            Model::Veo31Lite => "/v3/async/veo-3.1-lite-firstlastframe",
        }
    }

    /// The wire name of the last frame field for this model.
    pub fn last_frame_field(self) -> &'static str {
        match self {
            Model::Veo31Lite => "last_frame_image",
            _ => "last_image",
        }
    }

    /// The wire name of the duration field for this model.
    pub fn duration_field(self) -> &'static str {
        match self {
            Model::Veo31Lite => "duration",
            _ => "duration_seconds",
        }
    }
}

/// Output resolution of the video.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Resolution {
    /// 1280×720 (or 720×1280 in portrait).
    #[default]
    #[serde(rename = "720p")]
    P720,
    /// 1920×1080 (or 1080×1920 in portrait).
    #[serde(rename = "1080p")]
    P1080,
}

closed_set!(Resolution {
    P720 => "720p",
    P1080 => "1080p",
});

/// Aspect ratio of the video.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AspectRatio {
    /// Landscape 16:9.
    #[default]
    #[serde(rename = "16:9")]
    Landscape,
    /// Portrait 9:16.
    #[serde(rename = "9:16")]
    Portrait,
}

closed_set!(AspectRatio {
    Landscape => "16:9",
    Portrait => "9:16",
});

impl AspectRatio {
    /// Width divided by height.
    pub fn ratio(self) -> f64 {
        match self {
            AspectRatio::Landscape => 16.0 / 9.0,
            AspectRatio::Portrait => 9.0 / 16.0,
        }
    }
}

/// Whether and which people may be generated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonGeneration {
    /// Adults only (the platform's default).
    #[default]
    AllowAdult,
    /// No people.
    DontAllow,
    /// People of any age, where the region allows it.
    AllowAll,
}

closed_set!(PersonGeneration {
    AllowAdult => "allow_adult",
    DontAllow => "dont_allow",
    AllowAll => "allow_all",
});

/// Length of the video in seconds: 4, 6 or 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DurationSeconds {
    /// 4 seconds.
    Seconds4,
    /// 6 seconds.
    Seconds6,
    /// 8 seconds (the default).
    #[default]
    Seconds8,
}

closed_set!(DurationSeconds {
    Seconds4 => "4",
    Seconds6 => "6",
    Seconds8 => "8",
});

impl DurationSeconds {
    /// The allowed values, in seconds.
    pub const ALLOWED: [u64; 3] = [4, 6, 8];

    /// The length in seconds.
    pub fn seconds(self) -> u8 {
        match self {
            DurationSeconds::Seconds4 => 4,
            DurationSeconds::Seconds6 => 6,
            DurationSeconds::Seconds8 => 8,
        }
    }

    /// The duration for a number of seconds, if it is one of 4, 6 or 8.
    pub fn from_seconds(seconds: u64) -> Option<DurationSeconds> {
        match seconds {
            4 => Some(DurationSeconds::Seconds4),
            6 => Some(DurationSeconds::Seconds6),
            8 => Some(DurationSeconds::Seconds8),
            _ => None,
        }
    }
}

impl Serialize for DurationSeconds {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.seconds())
    }
}

impl<'de> Deserialize<'de> for DurationSeconds {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = u64::deserialize(deserializer)?;
        DurationSeconds::from_seconds(seconds).ok_or_else(|| {
            serde::de::Error::custom(format!("duration must be 4, 6 or 8 seconds, not {seconds}"))
        })
    }
}

impl JsonSchema for DurationSeconds {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DurationSeconds".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // A range rather than an integer enum, which some hosts (Gemini) refuse; the field's
        // description and validation name the three allowed values.
        schemars::json_schema!({ "type": "integer", "minimum": 4, "maximum": 8 })
    }
}

/// Upper bound on the length of `prompt` and `negative_prompt`, in characters.
pub const MAX_PROMPT_CHARS: usize = 5_000;
/// Largest number of videos one task may produce.
pub const MAX_SAMPLE_COUNT: u8 = 4;

fn default_sample_count() -> u8 {
    1
}

fn default_true() -> bool {
    true
}

/// A request for a transition video from a first frame to a last frame.
///
/// Frames are given as strings: an `http(s)` URL (passed on as is), a local file path (absolute,
/// `~/…` or `file://…`), a `data:image/…;base64,…` URL, or raw Base64 of a JPEG or PNG.
/// Use [`TransitionRequest::new`] for the required fields and set the rest directly; or parse
/// untrusted JSON with [`crate::validate::parse_request`], which reports every problem at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    /// Model to use: `veo-3.1` (best quality), `veo-3.1-fast` (faster, cheaper) or `veo-3.1-lite`.
    #[serde(default)]
    #[schemars(default = "Model::default")]
    pub model: Model,
    /// First frame. An http(s) URL, a local file path on the server's machine (absolute, ~/..., or
    /// file://...), a data:image/...;base64,... URL, or raw Base64. JPEG or PNG, at most 20 MB.
    pub image: String,
    /// Last frame. Same forms and limits as `image`; ideally the same aspect ratio.
    pub last_image: String,
    /// What happens between the first and the last frame: motion, camera, style. Not empty, at
    /// most 5000 characters.
    pub prompt: String,
    /// Seed for reproducible results, 0 to 4294967295. The same seed and parameters reproduce a
    /// result. Omit for a random one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 4_294_967_295_u32))]
    pub seed: Option<u32>,
    /// Output resolution.
    #[serde(default)]
    pub resolution: Resolution,
    /// Aspect ratio of the video; frames should match it.
    #[serde(default)]
    pub aspect_ratio: AspectRatio,
    /// Number of videos to generate in this task, 1 to 4. Each one is billed.
    #[serde(default = "default_sample_count")]
    #[schemars(range(min = 1, max = 4))]
    pub sample_count: u8,
    /// Let the platform rewrite the prompt for better results (on Veo 3.x it is always on).
    #[serde(default = "default_true")]
    pub enhance_prompt: bool,
    /// Also generate an audio track.
    #[serde(default)]
    pub generate_audio: bool,
    /// What the video should avoid. At most 5000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    /// Length of the video in seconds: 4, 6 or 8.
    #[serde(default)]
    pub duration_seconds: DurationSeconds,
    /// Whether people may appear: `allow_adult`, `dont_allow` or `allow_all`.
    #[serde(default)]
    pub person_generation: PersonGeneration,
}

impl TransitionRequest {
    /// A request with the required fields and the platform's defaults for everything else.
    pub fn new(
        image: impl Into<String>,
        last_image: impl Into<String>,
        prompt: impl Into<String>,
    ) -> Self {
        TransitionRequest {
            model: Model::default(),
            image: image.into(),
            last_image: last_image.into(),
            prompt: prompt.into(),
            seed: None,
            resolution: Resolution::default(),
            aspect_ratio: AspectRatio::default(),
            sample_count: default_sample_count(),
            enhance_prompt: true,
            generate_audio: false,
            negative_prompt: None,
            duration_seconds: DurationSeconds::default(),
            person_generation: PersonGeneration::default(),
        }
    }

    /// The request's field names as callers write them, in declaration order.
    pub const FIELDS: [&'static str; 13] = [
        "model",
        "image",
        "last_image",
        "prompt",
        "seed",
        "resolution",
        "aspect_ratio",
        "sample_count",
        "enhance_prompt",
        "generate_audio",
        "negative_prompt",
        "duration_seconds",
        "person_generation",
    ];
}

/// The parameters that apply to a task, defaults filled in and frames left out (they are large).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EffectiveParameters {
    /// Model used.
    pub model: Model,
    /// Seed, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u32>,
    /// Output resolution.
    pub resolution: Resolution,
    /// Aspect ratio.
    pub aspect_ratio: AspectRatio,
    /// Number of videos.
    pub sample_count: u8,
    /// Prompt rewriting.
    pub enhance_prompt: bool,
    /// Audio track.
    pub generate_audio: bool,
    /// Negative prompt, if one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negative_prompt: Option<String>,
    /// Length in seconds.
    pub duration_seconds: DurationSeconds,
    /// People policy.
    pub person_generation: PersonGeneration,
}

impl EffectiveParameters {
    /// Seconds of video the task makes, the unit it is billed in: duration × sample count.
    pub fn video_seconds(&self) -> u64 {
        u64::from(self.duration_seconds.seconds()) * u64::from(self.sample_count)
    }
}

impl From<&TransitionRequest> for EffectiveParameters {
    fn from(r: &TransitionRequest) -> Self {
        EffectiveParameters {
            model: r.model,
            seed: r.seed,
            resolution: r.resolution,
            aspect_ratio: r.aspect_ratio,
            sample_count: r.sample_count,
            enhance_prompt: r.enhance_prompt,
            generate_audio: r.generate_audio,
            negative_prompt: r.negative_prompt.clone(),
            duration_seconds: r.duration_seconds,
            person_generation: r.person_generation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_has_its_endpoint_and_wire_names() {
        assert_eq!(
            Model::Veo31.endpoint_path(),
            "/v3/async/veo-3.1-generate-firstlastframe"
        );
        assert_eq!(
            Model::Veo31Fast.endpoint_path(),
            "/v3/async/veo-3.1-fast-generate-firstlastframe"
        );
        assert_eq!(
            Model::Veo31Lite.endpoint_path(),
            "/v3/async/veo-3.1-lite-firstlastframe"
        );
        assert_eq!(Model::Veo31Lite.duration_field(), "duration");
        assert_eq!(Model::Veo31Lite.last_frame_field(), "last_frame_image");
        assert_eq!(Model::Veo31Fast.duration_field(), "duration_seconds");
        assert_eq!(Model::Veo31Fast.last_frame_field(), "last_image");
        for m in Model::ALL {
            assert_eq!(Model::from_name(m.as_str()), Some(m));
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
    }

    #[test]
    fn defaults_follow_the_spec() {
        let r: TransitionRequest =
            serde_json::from_str(r#"{"image":"a","last_image":"b","prompt":"p"}"#).unwrap();
        assert_eq!(r, TransitionRequest::new("a", "b", "p"));
        let v = serde_json::to_value(EffectiveParameters::from(&r)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "model": "veo-3.1", "resolution": "720p", "aspect_ratio": "16:9",
                "sample_count": 1, "enhance_prompt": true, "generate_audio": false,
                "duration_seconds": 8, "person_generation": "allow_adult"
            })
        );
    }

    /// The name serde writes for `value`: a string as is, anything else as JSON text.
    fn serde_name<T: Serialize>(value: T) -> String {
        match serde_json::to_value(value).unwrap() {
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        }
    }

    fn assert_names_match_serde<T>()
    where
        T: ClosedSet
            + Serialize
            + serde::de::DeserializeOwned
            + PartialEq
            + fmt::Debug
            + fmt::Display,
    {
        assert!(!T::ALL.is_empty());
        for &value in T::ALL {
            assert_eq!(serde_name(value), value.as_str());
            assert_eq!(value.to_string(), value.as_str());
            assert_eq!(T::from_name(value.as_str()), Some(value));
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
        }
        assert_eq!(T::from_name("no such value"), None);
    }

    #[test]
    fn every_closed_set_name_is_the_serde_name() {
        assert_names_match_serde::<Model>();
        assert_names_match_serde::<Resolution>();
        assert_names_match_serde::<AspectRatio>();
        assert_names_match_serde::<PersonGeneration>();
        assert_names_match_serde::<DurationSeconds>();
        assert_eq!(<Model as ClosedSet>::ALL, Model::ALL.as_slice());
        let seconds: Vec<u64> = <DurationSeconds as ClosedSet>::ALL
            .iter()
            .map(|d| u64::from(d.seconds()))
            .collect();
        assert_eq!(seconds, DurationSeconds::ALLOWED);
    }

    #[test]
    fn duration_rejects_other_lengths() {
        assert!(serde_json::from_str::<DurationSeconds>("5").is_err());
        assert_eq!(
            serde_json::from_str::<DurationSeconds>("6").unwrap(),
            DurationSeconds::Seconds6
        );
    }
}
