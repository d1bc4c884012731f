//! The crate's one error type.
//!
//! Every variant's text is written for the person or model that has to act on it: it says what
//! went wrong and what to do next. No text ever contains the API key.

use std::fmt;
use std::time::Duration;

/// One problem with one input field.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Problem {
    /// The field, as the caller named it (`sample_count`, `image`, …).
    pub field: String,
    /// The value seen, shortened for display.
    pub value: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl Problem {
    /// A problem with `field`, showing `value` (shortened) and explaining it with `message`.
    pub fn new(
        field: impl Into<String>,
        value: impl fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        Problem {
            // Field names come from the caller too (unknown fields): keep them short as well.
            field: shorten(&field.into(), 64),
            value: shorten(&value.to_string(), 80),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}: {}", self.field, self.message)
        } else {
            write!(f, "{} (got {}): {}", self.field, self.value, self.message)
        }
    }
}

/// Shortens `text` to at most `max` characters, marking the cut and the full length.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}… ({count} characters)")
}

/// Most problems an [`InvalidInput`] lists in its text (all are kept in `problems`).
const MAX_PROBLEMS_SHOWN: usize = 20;

/// All problems found in one request; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidInput {
    /// Each problem, in field order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "invalid input ({n} problem{}); nothing was sent",
            if n == 1 { "" } else { "s" }
        )?;
        for p in self.problems.iter().take(MAX_PROBLEMS_SHOWN) {
            write!(f, "\n- {p}")?;
        }
        if n > MAX_PROBLEMS_SHOWN {
            write!(f, "\n- … and {} more", n - MAX_PROBLEMS_SHOWN)?;
        }
        Ok(())
    }
}

/// Everything that can go wrong between a caller and the platform.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was rejected locally; nothing was sent.
    #[error("{0}")]
    InvalidInput(InvalidInput),

    /// No API key is configured; nothing was sent.
    #[error(
        "no API key is configured: set the JIEKOU_API_KEY environment variable to a key from the JieKou console"
    )]
    MissingApiKey,

    /// The platform refused the API key (401 or 403).
    #[error(
        "the platform refused the API key (HTTP {status}): {message}. Check JIEKOU_API_KEY; keys are managed in the JieKou console"
    )]
    Auth {
        /// HTTP status.
        status: u16,
        /// The platform's explanation.
        message: String,
    },

    /// Too many requests; try again later.
    #[error("rate limited by the platform{}: {message}", retry_hint(*retry_after))]
    RateLimited {
        /// How long the platform asked to wait, if it said.
        retry_after: Option<Duration>,
        /// The platform's explanation.
        message: String,
    },

    /// The platform does not know the task.
    #[error("unknown task {task_id}: the platform has no such task (check the id)")]
    NotFound {
        /// The task id that was asked for.
        task_id: String,
    },

    /// The platform answered with an error status.
    #[error("the platform answered HTTP {status}{}: {message}", reason.as_ref().map(|r| format!(" {r}")).unwrap_or_default())]
    Upstream {
        /// HTTP status.
        status: u16,
        /// The platform's machine-readable reason (`INVALID_REQUEST_BODY`, …), if given.
        reason: Option<String>,
        /// The platform's message, or an excerpt of a non-JSON body.
        message: String,
    },

    /// A submit failed in a way that leaves open whether the platform accepted it (and charged).
    #[error(
        "the submit's outcome is unknown: {detail}. The platform may have accepted it and charged for it; do not resubmit blindly: wait a minute and check recent tasks first, resubmitting only if no task appeared"
    )]
    SubmitOutcomeUnknown {
        /// What happened.
        detail: String,
    },

    /// The request could not be completed over the network.
    #[error("network error{}: {message}", if *may_have_reached_server { " (the request may have reached the platform)" } else { " (the request did not reach the platform)" })]
    Network {
        /// Whether the platform may have received the request.
        may_have_reached_server: bool,
        /// What happened.
        message: String,
    },

    /// The request took longer than the configured timeout.
    #[error("the platform did not answer within {0:?}")]
    Timeout(Duration),

    /// The platform answered with a body this client cannot read.
    #[error("unreadable response from the platform (HTTP {status}): {detail}")]
    BadResponse {
        /// HTTP status.
        status: u16,
        /// What was wrong, with an excerpt of the body.
        detail: String,
    },

    /// A result link no longer works (signed links expire about an hour after they are made).
    #[error("the video link has expired or was refused (HTTP {status}): {message}")]
    LinkExpired {
        /// HTTP status (403 or 410).
        status: u16,
        /// What the file host said.
        message: String,
    },

    /// A local file could not be written or read.
    #[error("cannot use {}: {message}", path.display())]
    LocalFile {
        /// The file or directory concerned.
        path: std::path::PathBuf,
        /// What went wrong.
        message: String,
    },

    /// The operation was cancelled by the caller.
    #[error("cancelled")]
    Cancelled,
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(" (retry after {} s)", d.as_secs().max(1)),
        None => String::new(),
    }
}

impl Error {
    /// Whether a *query* failing this way may succeed if repeated.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::RateLimited { .. } | Error::Network { .. } | Error::Timeout(_) => true,
            Error::Upstream { status, .. } => *status >= 500,
            // A reply cut off or garbled on the way (even under a 200) may come whole next time.
            Error::BadResponse { .. } => true,
            _ => false,
        }
    }

    /// Whether a *submit* failing this way certainly did not create a task, so sending it again
    /// cannot pay twice: the connection failed before anything was sent, or the platform
    /// turned it away with 429.
    pub fn is_safe_to_resend(&self) -> bool {
        matches!(
            self,
            Error::Network {
                may_have_reached_server: false,
                ..
            } | Error::RateLimited { .. }
        )
    }

    /// Whether a *submit* failing this way may still have created (and charged for) a task.
    pub fn may_have_created_task(&self) -> bool {
        matches!(
            self,
            Error::SubmitOutcomeUnknown { .. }
                | Error::Timeout(_)
                | Error::Network {
                    may_have_reached_server: true,
                    ..
                }
        )
    }

    /// The error with every occurrence of `secret` in its texts replaced by `<redacted>`: texts
    /// that came from the platform (a message, an excerpt of a body) may echo what was sent.
    pub fn redact(self, secret: &str) -> Error {
        if secret.is_empty() {
            return self;
        }
        let clean = |text: String| {
            if text.contains(secret) {
                text.replace(secret, "<redacted>")
            } else {
                text
            }
        };
        match self {
            Error::Auth { status, message } => Error::Auth {
                status,
                message: clean(message),
            },
            Error::RateLimited {
                retry_after,
                message,
            } => Error::RateLimited {
                retry_after,
                message: clean(message),
            },
            Error::Upstream {
                status,
                reason,
                message,
            } => Error::Upstream {
                status,
                reason: reason.map(clean),
                message: clean(message),
            },
            Error::SubmitOutcomeUnknown { detail } => Error::SubmitOutcomeUnknown {
                detail: clean(detail),
            },
            Error::Network {
                may_have_reached_server,
                message,
            } => Error::Network {
                may_have_reached_server,
                message: clean(message),
            },
            Error::BadResponse { status, detail } => Error::BadResponse {
                status,
                detail: clean(detail),
            },
            Error::LinkExpired { status, message } => Error::LinkExpired {
                status,
                message: clean(message),
            },
            Error::NotFound { task_id } => Error::NotFound {
                task_id: clean(task_id),
            },
            other => other,
        }
    }

    /// How long the platform asked to wait before the next request, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl From<InvalidInput> for Error {
    fn from(value: InvalidInput) -> Self {
        Error::InvalidInput(value)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_input_lists_every_problem_with_field_and_value() {
        let e = Error::from(InvalidInput {
            problems: vec![
                Problem::new("sample_count", 9, "must be 1 to 4"),
                Problem::new("prompt", "", "must not be empty"),
            ],
        });
        let text = e.to_string();
        assert!(text.starts_with("invalid input (2 problems); nothing was sent"));
        assert!(text.contains("- sample_count (got 9): must be 1 to 4"));
        assert!(text.contains("- prompt: must not be empty"));
    }

    #[test]
    fn long_values_are_shortened() {
        let p = Problem::new("image", "A".repeat(1000), "bad");
        assert!(p.value.len() < 120);
        assert!(p.value.ends_with("(1000 characters)"));
    }

    #[test]
    fn transient_errors_are_the_ones_worth_repeating() {
        assert!(
            Error::Upstream {
                status: 502,
                reason: None,
                message: String::new()
            }
            .is_transient()
        );
        assert!(
            !Error::Upstream {
                status: 400,
                reason: None,
                message: String::new()
            }
            .is_transient()
        );
        assert!(
            !Error::Auth {
                status: 401,
                message: String::new()
            }
            .is_transient()
        );
        assert!(
            Error::RateLimited {
                retry_after: None,
                message: String::new()
            }
            .is_transient()
        );
        assert!(
            !Error::NotFound {
                task_id: "x".into()
            }
            .is_transient()
        );
    }
}
