//! [`AppError`]: everything an operation of the application can fail with, each variant carrying
//! its [`ErrorClass`]. The MCP tools and the command line each turn it into their own words
//! (`mcp::reply`, `cli::exit`); nothing downstream parses its text.

use std::time::SystemTime;

use veo_core::{Error, InvalidInput};

use crate::journal::JournalError;
use crate::spend::{LimitKind, LimitReached};

/// Why an operation of the application failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request was refused locally; nothing was sent.
    #[error("{0}")]
    Invalid(InvalidInput),

    /// The platform, the network or a download failed (see the error's own variants).
    #[error("{0}")]
    Core(Error),

    /// The submit could not be written down first, so it was not sent.
    #[error(
        "cannot record the request in the task journal ({0}), so it was not sent. Nothing was charged."
    )]
    JournalWrite(#[source] JournalError),

    /// The journal could not be read.
    #[error("cannot read the task journal: {0}")]
    JournalRead(#[source] JournalError),

    /// A frame file could not be read again to fingerprint the request; nothing was sent.
    #[error(
        "a frame file could not be read again ({0}). Nothing was sent and nothing was charged."
    )]
    FrameUnreadable(#[source] std::io::Error),

    /// An identical request is being sent right now (a retry racing the original).
    #[error("an identical request (same frames, prompt and parameters) has been being sent since {}; it was not sent again.", rfc3339(*since))]
    SubmitInProgress {
        /// When the identical request was written down.
        since: SystemTime,
    },

    /// Sending would pass a spend limit set by the person who runs veo; nothing was sent.
    #[error("{}", limit_text(.0))]
    LimitReached(LimitReached),

    /// The person was asked to confirm the call and declined (or cancelled); nothing was sent.
    #[error(
        "the person declined to make this video ({video_seconds} s of video); nothing was sent."
    )]
    Declined {
        /// Seconds of video the call would have made.
        video_seconds: u64,
    },

    /// The call needs the person's confirmation and there is no way to ask; nothing was sent.
    #[error(
        "this call would make {video_seconds} s of video, above the {threshold} s that need the person's confirmation, and there is no way to ask for it here; nothing was sent."
    )]
    ConfirmationUnavailable {
        /// Seconds of video the call would make.
        video_seconds: u64,
        /// The confirmation threshold.
        threshold: u64,
    },

    /// The person must answer `question` first; the caller asks and calls again with the
    /// answer. Nothing was sent.
    #[error("this call needs the person's confirmation first: {question}")]
    ConfirmationPending {
        /// What to ask.
        question: String,
        /// The fingerprint of the request the answer is for.
        fingerprint: String,
    },

    /// An identical request was sent recently and its outcome is unknown; it was not resent.
    #[error("an identical request (same frames, prompt and parameters) was sent at {} and its outcome is unknown: {}. It was not sent again, so nothing was charged now.", rfc3339(*since), detail.as_deref().unwrap_or("no task id came back"))]
    OutcomeInDoubt {
        /// When the identical request was written down.
        since: SystemTime,
        /// What is known of its failure.
        detail: Option<String>,
    },
}

fn limit_text(limit: &LimitReached) -> String {
    match limit.kind {
        LimitKind::PerCall => format!(
            "this call would make {} s of video (duration_seconds × sample_count), more than the {} s one call may make; nothing was sent",
            limit.requested_seconds, limit.limit_seconds
        ),
        LimitKind::PerDay => {
            let when = match limit.fits_at {
                Some(at) => format!("a call of this size becomes possible at {}", rfc3339(at)),
                None => {
                    "a call of this size never fits: it is larger than the whole daily limit".into()
                }
            };
            format!(
                "this call would make {} s of video, and {} of the {} s allowed per 24 hours are used; nothing was sent. {when}",
                limit.requested_seconds, limit.used_seconds, limit.limit_seconds
            )
        }
    }
}

/// The class of an [`AppError`]: what kind of thing went wrong, for exit codes and for programs
/// reading tool errors (`_meta["veo/error"]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad input; nothing was sent.
    InvalidInput,
    /// No API key is configured.
    MissingApiKey,
    /// The platform refused the key.
    Auth,
    /// Too many requests.
    RateLimited,
    /// The platform does not know the task.
    NotFound,
    /// The platform refused the request or failed.
    Upstream,
    /// A submit may or may not have created a task.
    SubmitOutcomeUnknown,
    /// The network failed.
    Network,
    /// The platform did not answer in time.
    Timeout,
    /// The platform's answer could not be read.
    BadResponse,
    /// A video link has expired.
    LinkExpired,
    /// A local file could not be read or written.
    LocalFile,
    /// The caller cancelled.
    Cancelled,
    /// The task journal could not be used.
    Journal,
    /// An identical request is being sent right now.
    SubmitInProgress,
    /// A spend limit would be passed.
    SpendLimit,
    /// The person declined the call.
    Declined,
    /// The call needs a confirmation nobody can give here.
    ConfirmationRequired,
}

impl ErrorClass {
    /// The class's name: `invalid_input`, `missing_api_key`, `auth`, `rate_limited`,
    /// `not_found`, `upstream`, `submit_outcome_unknown`, `network`, `timeout`, `bad_response`,
    /// `link_expired`, `local_file`, `cancelled`, `journal`, `submit_in_progress`, `spend_limit`,
    /// `declined` or `confirmation_required`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::InvalidInput => "invalid_input",
            ErrorClass::MissingApiKey => "missing_api_key",
            ErrorClass::Auth => "auth",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Upstream => "upstream",
            ErrorClass::SubmitOutcomeUnknown => "submit_outcome_unknown",
            ErrorClass::Network => "network",
            ErrorClass::Timeout => "timeout",
            ErrorClass::BadResponse => "bad_response",
            ErrorClass::LinkExpired => "link_expired",
            ErrorClass::LocalFile => "local_file",
            ErrorClass::Cancelled => "cancelled",
            ErrorClass::Journal => "journal",
            ErrorClass::SubmitInProgress => "submit_in_progress",
            ErrorClass::SpendLimit => "spend_limit",
            ErrorClass::Declined => "declined",
            ErrorClass::ConfirmationRequired => "confirmation_required",
        }
    }
}

impl AppError {
    /// The error's class.
    pub fn class(&self) -> ErrorClass {
        match self {
            AppError::Invalid(_) => ErrorClass::InvalidInput,
            AppError::Core(e) => match e {
                Error::InvalidInput(_) => ErrorClass::InvalidInput,
                Error::MissingApiKey => ErrorClass::MissingApiKey,
                Error::Auth { .. } => ErrorClass::Auth,
                Error::RateLimited { .. } => ErrorClass::RateLimited,
                Error::NotFound { .. } => ErrorClass::NotFound,
                Error::Upstream { .. } => ErrorClass::Upstream,
                Error::SubmitOutcomeUnknown { .. } => ErrorClass::SubmitOutcomeUnknown,
                Error::Network { .. } => ErrorClass::Network,
                Error::Timeout(_) => ErrorClass::Timeout,
                Error::BadResponse { .. } => ErrorClass::BadResponse,
                Error::LinkExpired { .. } => ErrorClass::LinkExpired,
                Error::LocalFile { .. } => ErrorClass::LocalFile,
                Error::Cancelled => ErrorClass::Cancelled,
            },
            AppError::JournalWrite(_) | AppError::JournalRead(_) => ErrorClass::Journal,
            AppError::FrameUnreadable(_) => ErrorClass::LocalFile,
            AppError::SubmitInProgress { .. } => ErrorClass::SubmitInProgress,
            AppError::OutcomeInDoubt { .. } => ErrorClass::SubmitOutcomeUnknown,
            AppError::LimitReached(_) => ErrorClass::SpendLimit,
            AppError::Declined { .. } => ErrorClass::Declined,
            AppError::ConfirmationUnavailable { .. } | AppError::ConfirmationPending { .. } => {
                ErrorClass::ConfirmationRequired
            }
        }
    }
}

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
        match error {
            Error::InvalidInput(invalid) => AppError::Invalid(invalid),
            other => AppError::Core(other),
        }
    }
}

impl From<InvalidInput> for AppError {
    fn from(invalid: InvalidInput) -> Self {
        AppError::Invalid(invalid)
    }
}

/// `t` as RFC 3339 in UTC, to the second.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}
