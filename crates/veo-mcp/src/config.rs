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
  (every option above also has an environment variable, shown as [env: ...])
  RUST_LOG            log filter, e.g. veo_mcp=debug (logs go to stderr only)

Examples:
  veo-mcp demo                                try it: no key, no network (a local mock plays the API)
  veo-mcp                                     serve MCP over stdio (what desktop hosts run)
  veo-mcp serve --http 127.0.0.1:8080         serve streamable HTTP at http://127.0.0.1:8080/mcp
  VEO_AUTH_TOKEN=s3cret veo-mcp serve --http 0.0.0.0:8080
                                              serve on all interfaces (a bearer token is required)
  veo-mcp generate --first a.png --last b.png --prompt \"the camera pushes in\"
                                              make one video from the command line, wait, save it
  veo-mcp status TASK_ID --wait 60            check a task, waiting up to a minute
  veo-mcp tasks --status succeeded            list recent tasks from the journal

Exit codes (generate, status, tasks):
  0 done   1 other error (network, files, journal)   2 invalid input or usage (nothing was sent)
  3 missing or refused API key   4 the platform refused the request or the task failed
  5 still running when the wait ended   130 interrupted (Ctrl-C)";

const GENERATE_HELP: &str = "\
Frames are local files (JPEG or PNG, at most 20 MB), http(s) URLs, data: URLs or Base64.
Waits for the video by default, showing progress on stderr, saves it to the output directory
(--output-dir, VEO_OUTPUT_DIR) and prints where. Every submit is recorded in the task journal; an
identical request within the dedup window returns the earlier task instead of paying again
(--allow-duplicate overrides). Ctrl-C stops waiting; the task goes on (see `veo-mcp status`).

With --json, stdout is one JSON object: {\"submitted\": ...} as the generate_transition_video
tool returns it, plus \"result\": ... as get_task_result returns it (unless --no-wait).

Examples:
  veo-mcp generate --first day.png --last night.png --prompt \"time-lapse from day to night\"
  veo-mcp generate --first a.jpg --last b.jpg --prompt \"a slow dolly zoom\" \\
      --model veo-3.1-fast --resolution 1080p --duration 6 --generate-audio
  veo-mcp generate --first a.png --last b.png --prompt \"morph\" --no-wait --json | jq -r .submitted.task_id

Exit codes: 0 saved (or submitted, with --no-wait); 2 invalid input, nothing sent; 3 no or wrong
API key; 4 refused by the platform or the task failed; 5 still running after --wait seconds;
1 anything else (network, saving, journal); 130 interrupted.";

const STATUS_HELP: &str = "\
Asks the platform for the task's status (answering from the journal if the platform cannot be
reached and the task had finished). Once it has succeeded its videos are saved to the output
directory and their paths printed. With --json, stdout is what the get_task_result tool returns.

Examples:
  veo-mcp status 3f1c9a0e-...                 look once
  veo-mcp status 3f1c9a0e-... --wait 300      wait up to 5 minutes, with progress on stderr
  veo-mcp status 3f1c9a0e-... --json | jq -r '.videos[].saved_path'

Exit codes: 0 answered (done, or still running without --wait); 4 the task failed, or the
platform refused (unknown task id); 5 still running when --wait ended; 3 no or wrong API key;
2 usage; 1 anything else.";

const TASKS_HELP: &str = "\
Lists tasks from the task journal (VEO_JOURNAL), newest first: those submitted by this command
line and by the MCP server alike. Never contacts the platform. With --json, stdout is what the
list_tasks tool returns.

Examples:
  veo-mcp tasks
  veo-mcp tasks --status failed --limit 5
  veo-mcp tasks --json | jq -r '.tasks[] | select(.status == \"succeeded\") | .task_id'";

const DEMO_HELP: &str = "\
Starts a local fake of the platform (veo-mock) and the MCP server in this process, connects an
MCP client to it and runs the flow an agent would: generate_transition_video with two generated
frames, then get_task_result with a wait. Progress goes to stderr; the tool results, as the agent
sees them (text and structured JSON), go to stdout. The MP4 is saved to --output-dir if given,
else to a new temporary directory, and its path printed. Needs no API key and no network.

Example:
  cargo run --release -p veo-mcp -- demo";

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
    /// Try it: a whole generation against a local mock, no key or network needed.
    #[command(after_help = DEMO_HELP)]
    Demo,
    /// Make one video from two frames and a prompt; waits and saves it by default.
    #[command(after_help = GENERATE_HELP)]
    Generate(GenerateArgs),
    /// Show a task's status, optionally waiting for it; saves its videos once done.
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// List recent tasks from the task journal.
    #[command(after_help = TASKS_HELP)]
    Tasks(TasksArgs),
}

/// How a command prints its result.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Print the result as JSON on stdout (the structured result of the MCP tool).
    #[arg(long, help_heading = "Output")]
    pub json: bool,
}

/// Arguments of `generate`: the frames, the prompt, every request option and how to wait.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Video")]
pub struct GenerateArgs {
    /// First frame: a file path, an http(s) URL, a data: URL or Base64 (JPEG or PNG, ≤ 20 MB).
    #[arg(long, value_name = "FRAME")]
    pub first: String,

    /// Last frame, in the same forms.
    #[arg(long, value_name = "FRAME")]
    pub last: String,

    /// What happens between the frames (1 to 5000 characters).
    #[arg(long)]
    pub prompt: String,

    /// Model [default: --default-model, i.e. veo-3.1].
    #[arg(long, value_parser = ["veo-3.1", "veo-3.1-fast", "veo-3.1-lite"])]
    pub model: Option<String>,

    /// Video resolution [default: 720p].
    #[arg(long, value_parser = ["720p", "1080p"])]
    pub resolution: Option<String>,

    /// Aspect ratio of the video [default: 16:9].
    #[arg(long, value_parser = ["16:9", "9:16"])]
    pub aspect_ratio: Option<String>,

    /// Length of the video in seconds [default: 8].
    #[arg(long, value_name = "SECONDS", value_parser = ["4", "6", "8"])]
    pub duration: Option<String>,

    /// Seed for reproducible results, 0 to 4294967295 [default: random].
    #[arg(long)]
    pub seed: Option<u64>,

    /// How many videos to make, 1 to 4 (each one is billed) [default: 1].
    #[arg(long, value_name = "N")]
    pub sample_count: Option<u64>,

    /// What the video should not show (up to 5000 characters).
    #[arg(long, value_name = "TEXT")]
    pub negative_prompt: Option<String>,

    /// Let the platform rewrite the prompt (always on for Veo 3.x) [default: true].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub enhance_prompt: Option<bool>,

    /// Generate an audio track as well [default: false].
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub generate_audio: Option<bool>,

    /// Whether people may be shown [default: allow_adult].
    #[arg(long, value_parser = ["allow_adult", "dont_allow", "allow_all"])]
    pub person_generation: Option<String>,

    /// Submit even if an identical request was submitted within the dedup window (pays again).
    #[arg(long)]
    pub allow_duplicate: bool,

    /// Return as soon as the task is submitted; check it later with `veo-mcp status`.
    #[arg(long, conflicts_with = "wait", help_heading = "Waiting")]
    pub no_wait: bool,

    /// Longest time to wait for the video, in seconds; exit code 5 if it is still running then.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 900,
        help_heading = "Waiting"
    )]
    pub wait: u64,

    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The task id printed by `generate` (or shown by `tasks`).
    pub task_id: String,

    /// Wait up to this many seconds for the task to finish, with progress on stderr; 0 just
    /// looks.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 0,
        help_heading = "Waiting"
    )]
    pub wait: u64,

    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Arguments of `tasks`.
#[derive(Debug, Clone, Args)]
pub struct TasksArgs {
    /// Only tasks with this status (or, for submits without a task id, this submit state).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(crate::server::TASK_FILTERS))]
    pub status: Option<String>,

    /// How many tasks to show, newest first, 1 to 100.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,

    /// Output format.
    #[command(flatten)]
    pub output: OutputArgs,
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

/// How to serve; the default is stdio.
#[derive(Debug, Clone, Default, Args)]
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
