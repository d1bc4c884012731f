//! Logging to stderr only: stdout is the JSON-RPC channel in stdio mode.

use tracing_subscriber::EnvFilter;

/// Filter for serving when `RUST_LOG` is unset: our own info logs, only warnings from the SDK.
pub const SERVE_FILTER: &str = "info,rmcp=warn";
/// Filter for the commands when `RUST_LOG` is unset: warnings only, so progress on stderr is not
/// interleaved with routine logs.
pub const COMMAND_FILTER: &str = "warn";

/// Installs a stderr logger honouring `RUST_LOG`, else `default_filter`. Safe to call more than
/// once.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
