//! The three submit endpoints and their wire names.

use serde::{Deserialize, Serialize};

/// One of the platform's first/last-frame models, each with its own submit endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// `veo-3.1-generate-firstlastframe`.
    Standard,
    /// `veo-3.1-fast-generate-firstlastframe`.
    Fast,
    /// `veo-3.1-lite-firstlastframe` (says `duration` and `last_frame_image`).
    Lite,
}

impl Model {
    /// All models, in a fixed order.
    pub const ALL: [Model; 3] = [Model::Standard, Model::Fast, Model::Lite];

    /// The last path segment of the submit endpoint.
    pub fn endpoint_name(self) -> &'static str {
        match self {
            Model::Standard => "veo-3.1-generate-firstlastframe",
            Model::Fast => "veo-3.1-fast-generate-firstlastframe",
            Model::Lite => "veo-3.1-lite-firstlastframe",
        }
    }

    /// The submit path, e.g. `/v3/async/veo-3.1-generate-firstlastframe`.
    pub fn path(self) -> &'static str {
        match self {
            Model::Standard => "/v3/async/veo-3.1-generate-firstlastframe",
            Model::Fast => "/v3/async/veo-3.1-fast-generate-firstlastframe",
            Model::Lite => "/v3/async/veo-3.1-lite-firstlastframe",
        }
    }

    /// The model whose endpoint has this last path segment.
    pub fn from_endpoint_name(name: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.endpoint_name() == name)
    }

    /// Wire name of the last frame field.
    pub fn last_frame_field(self) -> &'static str {
        match self {
            Model::Lite => "last_frame_image",
            _ => "last_image",
        }
    }

    /// Wire name of the duration field.
    pub fn duration_field(self) -> &'static str {
        match self {
            Model::Lite => "duration",
            _ => "duration_seconds",
        }
    }
}
