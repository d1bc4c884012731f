//! Logging to stderr only: stdout is the JSON-RPC channel in stdio mode.

use tracing_subscriber::EnvFilter;

/// Filter used when `RUST_LOG` is unset: our own info logs, only warnings from the MCP SDK.
const DEFAULT_FILTER: &str = "info,rmcp=warn";

/// Installs a stderr logger honouring `RUST_LOG`. Safe to call more than once.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
