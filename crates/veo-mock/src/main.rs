//! `veo-mock`: run the local fake of the JieKou Veo 3.1 API.
//!
//! Prints one line, the base URL, on stdout once it accepts connections; logs go to stderr.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use tracing_subscriber::EnvFilter;
use veo_mock::{FaultRule, MockConfig, MockServer};

/// A local fake of JieKou AI's asynchronous Veo 3.1 first/last-frame API.
#[derive(Debug, Parser)]
#[command(name = "veo-mock", version, about)]
struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8787", env = "VEO_MOCK_ADDR")]
    addr: SocketAddr,

    /// JSON config file (fields of MockConfig; flags override it).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Timing preset: fast (tests), default (demo) or realistic (minutes-scale).
    #[arg(long, value_enum)]
    preset: Option<Preset>,

    /// Accepted API key (repeatable). Default: mock-key.
    #[arg(long = "api-key", value_name = "KEY")]
    api_keys: Vec<String>,

    /// Accept any non-empty API key.
    #[arg(long, conflicts_with = "api_keys")]
    any_key: bool,

    /// Seed for every random choice.
    #[arg(long)]
    seed: Option<u64>,

    /// Milliseconds a task stays queued.
    #[arg(long)]
    queue_ms: Option<u64>,

    /// Milliseconds a task stays processing.
    #[arg(long)]
    processing_ms: Option<u64>,

    /// Lifetime of result links in seconds (default 3600).
    #[arg(long)]
    ttl_s: Option<u64>,

    /// Links expire TTL after completion instead of after the query that returned them.
    #[arg(long)]
    sign_at_completion: bool,

    /// Fraction (0..=1) of tasks that fail with a generation error.
    #[arg(long)]
    failure_rate: Option<f64>,

    /// Fault rule (repeatable): SCOPE:KIND[=PARAM][:rate=P|:next=N], e.g.
    /// `submit:http_500:rate=0.1`, `query:rate_limited=2:next=3`, `download:slow=500`.
    /// Scopes: submit, query, download, any. Kinds: http_500, http_502_html, rate_limited[=S],
    /// connection_reset, slow=MS, malformed_json, created_then_500, created_then_reset.
    #[arg(long = "fault", value_name = "RULE")]
    faults: Vec<FaultRule>,

    /// Largest accepted decoded frame, in bytes (default 20 MiB).
    #[arg(long)]
    max_image_bytes: Option<usize>,

    /// Largest accepted request body, in bytes (default 64 MiB).
    #[arg(long)]
    max_body_bytes: Option<usize>,

    /// Accept frames as data:image/...;base64, URLs.
    #[arg(long)]
    accept_data_urls: bool,

    /// Base URL written into result links (default: the bound address).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,

    /// Log filter for stderr, e.g. info or veo_mock=debug.
    #[arg(long, default_value = "warn", env = "VEO_MOCK_LOG")]
    log: String,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Preset {
    Fast,
    Default,
    Realistic,
}

fn config_from(cli: &Cli) -> Result<MockConfig, String> {
    let mut config = match &cli.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => MockConfig::default(),
    };
    if let Some(preset) = cli.preset {
        let timing = match preset {
            Preset::Fast => MockConfig::fast(),
            Preset::Default => MockConfig::default(),
            Preset::Realistic => MockConfig::realistic(),
        };
        config.queue_ms = timing.queue_ms;
        config.processing_ms = timing.processing_ms;
    }
    if cli.any_key {
        config.api_keys.clear();
    } else if !cli.api_keys.is_empty() {
        config.api_keys = cli.api_keys.clone();
    }
    if let Some(v) = cli.seed {
        config.seed = v;
    }
    if let Some(v) = cli.queue_ms {
        config.queue_ms = v;
    }
    if let Some(v) = cli.processing_ms {
        config.processing_ms = v;
    }
    if let Some(v) = cli.ttl_s {
        config.link_ttl_ms = v.saturating_mul(1000);
    }
    if cli.sign_at_completion {
        config.sign_links_at_completion = true;
    }
    if let Some(v) = cli.failure_rate {
        config.failure_rate = v;
    }
    config.faults.extend(cli.faults.iter().cloned());
    if let Some(v) = cli.max_image_bytes {
        config.max_image_bytes = v;
    }
    if let Some(v) = cli.max_body_bytes {
        config.max_body_bytes = v;
    }
    if cli.accept_data_urls {
        config.accept_data_urls = true;
    }
    if let Some(url) = &cli.public_url {
        config.public_base_url = Some(url.clone());
    }
    config.check()?;
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let config = match config_from(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("veo-mock: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match MockServer::bind(cli.addr, config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("veo-mock: cannot listen on {}: {e}", cli.addr);
            return ExitCode::FAILURE;
        }
    };
    println!("{}", server.base_url());
    tracing::info!(
        "veo-mock ready at {}; accepted key: {}",
        server.base_url(),
        server.api_key()
    );

    shutdown_signal().await;
    server.shutdown().await;
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
