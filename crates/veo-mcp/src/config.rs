//! Configuration: command-line flags and environment variables, resolved into one [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use veo_core::{ClientConfig, ImagePolicy, Model};

use crate::watcher::PollTiming;

/// Longest `wait_seconds` a single `get_task_result` call may use by default: below the ~60 s
/// after which many MCP hosts abandon a tool call.
pub const DEFAULT_MAX_WAIT_SECONDS: u64 = 50;

const AFTER_HELP: &str = "\
Environment:
  JIEKOU_API_KEY      API key from the JieKou console (required to generate; the server starts without it)
  JIEKOU_BASE_URL     API base URL (default https://api.jiekou.ai)
  (every flag below also has an environment variable, shown in its [env: ...])
  RUST_LOG            log filter, e.g. veo_mcp=debug (logs go to stderr only)

Examples:
  veo-mcp                                     serve MCP over stdio (what desktop hosts run)
  veo-mcp serve --http 127.0.0.1:8080         serve streamable HTTP at http://127.0.0.1:8080/mcp
  VEO_AUTH_TOKEN=s3cret veo-mcp serve --http 0.0.0.0:8080
                                              serve on all interfaces (a bearer token is required)";

/// MCP server for making transition videos with Veo 3.1 (JieKou AI).
///
/// With no subcommand it serves MCP over stdio.
#[derive(Debug, Parser)]
#[command(name = "veo-mcp", version, about, long_about = None, after_help = AFTER_HELP)]
pub struct Cli {
    /// What to run; stdio serving when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings shared by every mode.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// The modes of the binary.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (the default) or streamable HTTP.
    Serve(ServeArgs),
}

/// Settings every mode shares.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// API base URL.
    #[arg(long, env = "JIEKOU_BASE_URL", default_value = veo_core::config::DEFAULT_BASE_URL, global = true)]
    pub base_url: String,

    /// Model used when a request does not name one: veo-3.1, veo-3.1-fast or veo-3.1-lite.
    #[arg(long, env = "VEO_DEFAULT_MODEL", default_value = "veo-3.1", value_parser = parse_model, global = true)]
    pub default_model: Model,

    /// Directories local frame files may be read from, separated by ':' (';' on Windows).
    /// Default: the current directory and the home directory.
    #[arg(long, env = "VEO_ALLOWED_ROOTS", value_delimiter = PATH_LIST_SEPARATOR, global = true)]
    pub allowed_roots: Vec<PathBuf>,

    /// Longest wait, in seconds, one get_task_result call may block for (hosts abandon tool
    /// calls after ~60 s).
    #[arg(long, env = "VEO_MAX_WAIT_SECONDS", default_value_t = DEFAULT_MAX_WAIT_SECONDS, value_parser = clap::value_parser!(u64).range(0..=600), global = true)]
    pub max_wait_seconds: u64,

    /// Where finished videos are saved, as <DIR>/<task_id>/<task_id>.mp4.
    /// Default: <Videos>/veo (e.g. ~/Videos/veo), else <data dir>/veo/videos.
    #[arg(long, env = "VEO_OUTPUT_DIR", global = true, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,

    /// Do not download videos; only report their links (which expire about an hour after
    /// generation).
    #[arg(long, env = "VEO_NO_SAVE", global = true)]
    pub no_save: bool,

    /// The task journal (SQLite) that remembers every submit, status, link and saved file.
    /// Default: <data dir>/veo/journal.sqlite3 (e.g. ~/.local/share/veo). `:memory:` keeps it in
    /// memory only, so nothing survives a restart.
    #[arg(long, env = "VEO_JOURNAL", global = true, value_name = "FILE")]
    pub journal: Option<PathBuf>,

    /// An identical request (same frames, prompt and parameters) within this many seconds of an
    /// earlier one returns the earlier task instead of paying again, unless the call sets
    /// allow_duplicate. 0 turns this off.
    #[arg(
        long,
        env = "VEO_DEDUP_WINDOW_SECONDS",
        default_value_t = 600,
        global = true,
        value_name = "SECONDS"
    )]
    pub dedup_window_seconds: u64,
}

#[cfg(windows)]
const PATH_LIST_SEPARATOR: char = ';';
#[cfg(not(windows))]
const PATH_LIST_SEPARATOR: char = ':';

/// How to serve.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Serve streamable HTTP on this address (at /mcp) instead of stdio.
    #[arg(long, value_name = "HOST:PORT")]
    pub http: Option<SocketAddr>,

    /// Bearer token HTTP clients must send. Required when --http binds a non-loopback address.
    #[arg(long, env = "VEO_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,

    /// Extra Host header values to accept over HTTP (loopback names are always accepted).
    #[arg(long, env = "VEO_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Extra Origin values to accept over HTTP, e.g. https://app.example.com (loopback origins
    /// are always accepted; requests without an Origin header are accepted).
    #[arg(long, env = "VEO_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
}

fn parse_model(s: &str) -> Result<Model, String> {
    Model::from_name(s).ok_or_else(|| "must be veo-3.1, veo-3.1-fast or veo-3.1-lite".to_string())
}

/// The resolved settings of the MCP server.
#[derive(Clone, Debug)]
pub struct Config {
    /// How to reach the platform (the API key comes from `JIEKOU_API_KEY`).
    pub client: ClientConfig,
    /// Model for requests that do not name one.
    pub default_model: Model,
    /// Where local frames may be read from.
    pub image_policy: ImagePolicy,
    /// Cap on `wait_seconds`.
    pub max_wait: Duration,
    /// Where videos are saved; `None` when saving is off.
    pub output_dir: Option<PathBuf>,
    /// The journal file; `None` keeps it in memory.
    pub journal: Option<PathBuf>,
    /// How long an identical request is answered with the earlier task.
    pub dedup_window: Duration,
    /// How the background watcher polls.
    pub watch: PollTiming,
    /// Whether starting picks up the journal's unfinished and unsaved tasks in the background
    /// (the server does; one-shot CLI commands do not, as they exit soon after).
    pub resume: bool,
}

/// The default output directory: `<Videos>/veo`, else `<data dir>/veo/videos`, else `./veo-videos`.
pub fn default_output_dir() -> PathBuf {
    dirs::video_dir()
        .map(|d| d.join("veo"))
        .or_else(|| dirs::data_local_dir().map(|d| d.join("veo").join("videos")))
        .unwrap_or_else(|| PathBuf::from("veo-videos"))
}

/// The default journal: `<data dir>/veo/journal.sqlite3`, else `./veo-journal.sqlite3`.
pub fn default_journal() -> PathBuf {
    dirs::data_local_dir()
        .map(|d| d.join("veo").join("journal.sqlite3"))
        .unwrap_or_else(|| PathBuf::from("veo-journal.sqlite3"))
}

impl Config {
    /// Resolves flags and environment into a configuration.
    pub fn from_args(args: &CommonArgs) -> Result<Config, veo_core::Error> {
        let mut client = ClientConfig::from_env()?.with_base_url(&args.base_url)?;
        client.user_agent = concat!("veo-mcp/", env!("CARGO_PKG_VERSION")).to_string();
        let image_policy = if args.allowed_roots.is_empty() {
            ImagePolicy::default()
        } else {
            ImagePolicy {
                allowed_roots: args.allowed_roots.clone(),
            }
        };
        Ok(Config {
            client,
            default_model: args.default_model,
            image_policy,
            max_wait: Duration::from_secs(args.max_wait_seconds),
            output_dir: (!args.no_save)
                .then(|| args.output_dir.clone().unwrap_or_else(default_output_dir)),
            journal: match &args.journal {
                Some(path) if path.as_os_str() == ":memory:" => None,
                Some(path) => Some(path.clone()),
                None => Some(default_journal()),
            },
            dedup_window: Duration::from_secs(args.dedup_window_seconds),
            watch: PollTiming::default(),
            resume: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_resolve() {
        let cli = Cli::parse_from([
            "veo-mcp",
            "serve",
            "--http",
            "127.0.0.1:0",
            "--default-model",
            "veo-3.1-lite",
            "--allowed-roots",
            "/a:/b",
            "--max-wait-seconds",
            "20",
            "--base-url",
            "http://127.0.0.1:9/",
        ]);
        let config = Config::from_args(&cli.common).unwrap();
        assert_eq!(config.default_model, Model::Veo31Lite);
        assert_eq!(
            config.image_policy.allowed_roots,
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(config.max_wait, Duration::from_secs(20));
        assert_eq!(config.client.base_url, "http://127.0.0.1:9");
        assert!(matches!(
            cli.command,
            Some(Command::Serve(ServeArgs { http: Some(_), .. }))
        ));
        assert!(Cli::try_parse_from(["veo-mcp", "--default-model", "veo-2"]).is_err());
    }
}
