//! Logging to stderr only: stdout is the JSON-RPC channel in stdio mode.

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Filter for serving when `RUST_LOG` is unset: our own info logs, only warnings from the SDK.
pub const SERVE_FILTER: &str = "info,rmcp=warn";
/// Filter for the commands when `RUST_LOG` is unset: warnings only, so progress on stderr is not
/// interleaved with routine logs.
pub const COMMAND_FILTER: &str = "warn";

/// Installs a stderr logger honouring `RUST_LOG`, else `default_filter`. Safe to call more than
/// once.
///
/// The filter is comma-separated `target=level` directives, a bare `level` for everything else
/// (`info,veo_mcp=debug`), or a bare `target` for all of its levels; the most specific target
/// wins. A `RUST_LOG` that does not parse is ignored for `default_filter`. (tracing-subscriber's
/// `Targets`: no span or field-value filters, and so no regex engine in the binary.)
pub fn init(default_filter: &str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| parse(&directives))
        .or_else(|| parse(default_filter))
        .unwrap_or_default();
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false),
        )
        .with(filter)
        .try_init();
}

/// Parses a filter, skipping empty directives (`RUST_LOG=` turns logging off).
fn parse(directives: &str) -> Option<Targets> {
    let directives: Vec<&str> = directives.split(',').filter(|d| !d.is_empty()).collect();
    if directives.is_empty() {
        return Some(Targets::new());
    }
    directives.join(",").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse;
    use tracing_subscriber::filter::LevelFilter;

    #[test]
    fn filters_parse_like_rust_log() {
        let filter = parse("info,rmcp=warn,veo_mcp::journal=debug,").unwrap();
        assert_eq!(filter.default_level(), Some(LevelFilter::INFO));
        assert!(filter.would_enable("veo_mcp", &tracing::Level::INFO));
        assert!(!filter.would_enable("veo_mcp", &tracing::Level::DEBUG));
        assert!(filter.would_enable("veo_mcp::journal::sqlite", &tracing::Level::DEBUG));
        assert!(!filter.would_enable("rmcp::service", &tracing::Level::INFO));
        assert!(filter.would_enable("rmcp::service", &tracing::Level::WARN));
        let bare_target = parse("veo_mcp").unwrap();
        assert!(bare_target.would_enable("veo_mcp::app", &tracing::Level::TRACE));
        assert!(!bare_target.would_enable("hyper", &tracing::Level::ERROR));
        assert!(
            parse("WARN")
                .unwrap()
                .would_enable("x", &tracing::Level::WARN)
        );
        assert!(!parse("").unwrap().would_enable("x", &tracing::Level::ERROR));
        assert!(parse("veo_mcp=loud").is_none());
    }
}
