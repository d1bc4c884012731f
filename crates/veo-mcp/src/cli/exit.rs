//! How a command ends: its exit code, chosen from the [`AppError`]'s class, and what it tells
//! the person at the terminal.

use veo_core::{Error, InvalidInput};

use super::args::option_for;
use crate::app::{AppError, ErrorClass};

/// Exit codes of the commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Done.
    Ok = 0,
    /// Anything else: network, local files, saving, the journal.
    Other = 1,
    /// Invalid input or usage (clap's usage errors are 2 as well); nothing was sent.
    InvalidInput = 2,
    /// No API key, or the platform refused it.
    Auth = 3,
    /// The platform refused the request, or the task failed.
    Failed = 4,
    /// The task was still running when the wait ended.
    StillRunning = 5,
    /// A spend limit, or the person, refused the call; nothing was sent.
    Refused = 6,
    /// Interrupted with Ctrl-C.
    Interrupted = 130,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ErrorClass> for Exit {
    fn from(class: ErrorClass) -> Exit {
        match class {
            ErrorClass::InvalidInput => Exit::InvalidInput,
            ErrorClass::MissingApiKey | ErrorClass::Auth => Exit::Auth,
            ErrorClass::Upstream
            | ErrorClass::RateLimited
            | ErrorClass::NotFound
            | ErrorClass::BadResponse
            | ErrorClass::SubmitOutcomeUnknown
            | ErrorClass::LinkExpired => Exit::Failed,
            ErrorClass::Cancelled => Exit::Interrupted,
            ErrorClass::SpendLimit | ErrorClass::Declined | ErrorClass::ConfirmationRequired => {
                Exit::Refused
            }
            ErrorClass::Network
            | ErrorClass::Timeout
            | ErrorClass::LocalFile
            | ErrorClass::Journal
            | ErrorClass::SubmitInProgress => Exit::Other,
        }
    }
}

/// Why a command did not succeed: what to tell the user (on stderr) and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// What happened and what to do, for stderr.
    pub message: String,
}

impl Failure {
    /// A failure with this exit code and message.
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure {
            exit,
            message: message.into(),
        }
    }
}

impl From<AppError> for Failure {
    /// What happened, problems named by their options, and what to do at a terminal.
    fn from(error: AppError) -> Failure {
        let what = match &error {
            AppError::Invalid(invalid) | AppError::Core(Error::InvalidInput(invalid)) => {
                with_options(invalid)
            }
            other => other.to_string(),
        };
        let message = match advice(&error) {
            Some(advice) => format!("{what}\n{advice}"),
            None => what,
        };
        Failure::new(Exit::from(error.class()), message)
    }
}

/// The problems of `invalid`, each named by the option that sets its field.
fn with_options(invalid: &InvalidInput) -> String {
    let renamed = InvalidInput {
        problems: invalid
            .problems
            .iter()
            .map(|p| veo_core::Problem {
                field: option_for(&p.field),
                ..p.clone()
            })
            .collect(),
    };
    renamed.to_string()
}

/// What to do about `error` at the command line.
fn advice(error: &AppError) -> Option<&'static str> {
    Some(match error {
        AppError::Invalid(_) | AppError::Core(Error::InvalidInput(_)) => {
            "Fix the options above; nothing was sent and nothing was charged."
        }
        AppError::Core(Error::MissingApiKey) => {
            "Set JIEKOU_API_KEY to a key from the JieKou console (or try `veo-mcp demo`, which needs none). Nothing was sent."
        }
        AppError::Core(Error::Auth { .. }) => {
            "Check JIEKOU_API_KEY; retrying with the same key will not help."
        }
        AppError::Core(Error::NotFound { .. }) => {
            "Use a task id printed by `veo-mcp generate` or shown by `veo-mcp tasks`."
        }
        AppError::Core(Error::SubmitOutcomeUnknown { .. }) | AppError::OutcomeInDoubt { .. } => {
            "Check `veo-mcp tasks` in a minute before submitting again; --allow-duplicate submits anyway, at the risk of paying twice."
        }
        AppError::SubmitInProgress { .. } => {
            "Run `veo-mcp tasks` in a minute to see its task id, then `veo-mcp status TASK_ID --wait 300`."
        }
        AppError::Core(Error::RateLimited { .. }) => "Wait a little and run it again.",
        AppError::Core(Error::Network {
            may_have_reached_server: false,
            ..
        }) => "Nothing was charged. Check the network or JIEKOU_BASE_URL, then run it again.",
        AppError::Core(Error::Network { .. } | Error::Timeout(_)) => {
            "Run it again in a moment; after a submit, check `veo-mcp tasks` first."
        }
        AppError::Core(Error::Upstream { status, .. }) if *status >= 500 => {
            "The platform is having trouble; try again in a minute."
        }
        AppError::Core(Error::Upstream { .. }) => {
            "The platform rejected the request; change what its message says before trying again."
        }
        AppError::Core(Error::BadResponse { .. }) => {
            "The platform answered unexpectedly; try again in a minute."
        }
        AppError::Core(Error::LinkExpired { .. }) => {
            "Run `veo-mcp status TASK_ID` for fresh links; `veo-mcp tasks` shows saved copies."
        }
        AppError::Core(Error::LocalFile { .. }) => {
            "Check that the output directory exists and is writable (--output-dir, VEO_OUTPUT_DIR)."
        }
        AppError::FrameUnreadable(_) => {
            "Make sure the frame files stay in place while the request is made, then run it again."
        }
        AppError::JournalWrite(_) | AppError::JournalRead(_) => {
            "Check that the journal's directory is writable (--journal, VEO_JOURNAL)."
        }
        AppError::LimitReached(_) => {
            "The limits are set with --max-video-seconds-per-call and --max-video-seconds-per-day (VEO_MAX_VIDEO_SECONDS_PER_CALL, VEO_MAX_VIDEO_SECONDS_PER_DAY)."
        }
        AppError::Declined { .. } => return None,
        AppError::ConfirmationUnavailable { .. } | AppError::ConfirmationPending { .. } => {
            "Run it at a terminal to be asked, or pass --yes to confirm it; the threshold is --confirm-above-seconds (VEO_CONFIRM_ABOVE_SECONDS)."
        }
        AppError::Core(Error::Cancelled) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use veo_core::Problem;

    #[test]
    fn error_classes_pick_exit_codes() {
        let exit = |e: AppError| Failure::from(e).exit;
        assert_eq!(
            exit(AppError::Invalid(InvalidInput { problems: vec![] })),
            Exit::InvalidInput
        );
        assert_eq!(exit(AppError::Core(Error::MissingApiKey)), Exit::Auth);
        assert_eq!(
            exit(AppError::Core(Error::Auth {
                status: 401,
                message: String::new()
            })),
            Exit::Auth
        );
        assert_eq!(
            exit(AppError::Core(Error::NotFound {
                task_id: "t".into()
            })),
            Exit::Failed
        );
        assert_eq!(
            exit(AppError::OutcomeInDoubt {
                since: std::time::SystemTime::now(),
                detail: None
            }),
            Exit::Failed
        );
        assert_eq!(exit(AppError::Core(Error::Cancelled)), Exit::Interrupted);
        assert_eq!(
            exit(AppError::Core(Error::Timeout(std::time::Duration::ZERO))),
            Exit::Other
        );
    }

    #[test]
    fn problems_are_named_by_their_options() {
        let failure = Failure::from(AppError::Invalid(InvalidInput {
            problems: vec![
                Problem::new("sample_count", 9, "must be 1 to 4"),
                Problem::new("image", "", "the file does not exist"),
            ],
        }));
        let message = failure.message;
        assert!(
            message.starts_with("invalid input (2 problems)"),
            "{message}"
        );
        assert!(message.contains("- --sample-count (got 9): must be 1 to 4"));
        assert!(message.contains("- --first: the file does not exist"));
        assert!(
            message.ends_with("Fix the options above; nothing was sent and nothing was charged.")
        );
    }
}
