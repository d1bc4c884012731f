//! The command line's arguments (clap) and how they become a [`Config`] and a typed request.
//! Closed sets (models, resolutions, …) are offered from veo-core's own lists.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use veo_core::{
    AspectRatio, ClientConfig, ClosedSet, DurationSeconds, Model, PersonGeneration, Resolution,
    TransitionRequest,
};

use super::journal_arg::JournalParser;
use crate::config::{
    Config, DEFAULT_LEASE, DEFAULT_MAX_WAIT_SECONDS, default_journal, default_output_dir,
};
use crate::journal::{JournalLocation, TaskFilter};
use crate::spend::{Price, SpendLimits};

/// A value parser offering exactly the names of the closed set `T`.
fn closed_set<T: ClosedSet + Send + Sync + Clone>() -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(T::ALL.iter().map(|v| v.as_str()))
        .try_map(|name| T::from_name(&name).ok_or("not one of the listed values"))
}

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
  5 still running when the wait ended   6 a spend limit or the person refused (nothing was sent)
  130 interrupted (Ctrl-C)";

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
6 refused by a spend limit or not confirmed, nothing sent; 1 anything else (network, saving,
journal); 130 interrupted.";

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

#[cfg(feature = "demo")]
const DEMO_HELP: &str = "\
Starts a local fake of the platform (veo-mock) and the MCP server in this process, connects an
MCP client to it and runs the flow an agent would: generate_transition_video with two generated
frames, then waits for the video in one of the two ways a host can. By default the client
declares MCP's Tasks extension (protocol 2026-07-28): the call answers with a task, polled with
tasks/get until it is completed. With --without-tasks it is a client without the extension: it
waits with get_task_result and its progress notifications. The way used is printed. Progress goes
to stderr; the tool results, as the agent sees them (text and structured JSON), go to stdout. The MP4 is saved to --output-dir if given,
else to a new temporary directory, and its path printed. Needs no API key and no network.

Example:
  cargo run --release -p veo-mcp -- demo";

/// Options of `veo-mcp demo`.
#[cfg(feature = "demo")]
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DemoArgs {
    /// Connect as a client without MCP's Tasks extension: wait with get_task_result instead
    /// of polling tasks/get.
    #[arg(long)]
    pub without_tasks: bool,
}

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
    #[cfg(feature = "demo")]
    #[command(after_help = DEMO_HELP)]
    Demo(DemoArgs),
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
    #[arg(long, value_parser = closed_set::<Model>())]
    pub model: Option<Model>,

    /// Video resolution [default: 720p].
    #[arg(long, value_parser = closed_set::<Resolution>())]
    pub resolution: Option<Resolution>,

    /// Aspect ratio of the video [default: 16:9].
    #[arg(long, value_parser = closed_set::<AspectRatio>())]
    pub aspect_ratio: Option<AspectRatio>,

    /// Length of the video in seconds [default: 8].
    #[arg(long, value_name = "SECONDS", value_parser = closed_set::<DurationSeconds>())]
    pub duration: Option<DurationSeconds>,

    /// Seed for reproducible results, 0 to 4294967295 [default: random].
    #[arg(long)]
    pub seed: Option<u32>,

    /// How many videos to make, 1 to 4 (each one is billed) [default: 1].
    #[arg(long, value_name = "N")]
    pub sample_count: Option<u8>,

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
    #[arg(long, value_parser = closed_set::<PersonGeneration>())]
    pub person_generation: Option<PersonGeneration>,

    /// Submit even if an identical request was submitted within the dedup window (pays again).
    #[arg(long)]
    pub allow_duplicate: bool,

    /// Confirm a video above --confirm-above-seconds without being asked.
    #[arg(long)]
    pub yes: bool,

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
    #[arg(long, value_parser = closed_set::<TaskFilter>())]
    pub status: Option<TaskFilter>,

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
    #[arg(long, env = "VEO_DEFAULT_MODEL", default_value = "veo-3.1", value_parser = closed_set::<Model>(), global = true)]
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

    /// The task journal that remembers every submit, status, link and saved file: an SQLite
    /// file (default: <data dir>/veo/journal.sqlite3, e.g. ~/.local/share/veo), `:memory:` (kept
    /// in memory only, so nothing survives a restart), or a postgres:// URL, which several
    /// servers (replicas, machines) share (in a build with the `postgres` feature, the default).
    #[arg(long, env = "VEO_JOURNAL", global = true, value_name = "FILE|URL",
          hide_env_values = true, value_parser = JournalParser)]
    pub journal: Option<JournalLocation>,

    /// Seconds a server's claim to follow a task lasts unrenewed. Servers sharing a journal
    /// follow each task once; when one stops, another takes its tasks over within this time
    /// plus a third of it.
    #[arg(long, env = "VEO_LEASE_SECONDS", global = true, default_value_t = DEFAULT_LEASE.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub lease_seconds: u64,

    /// Threads that answer requests [default: one per CPU]. One thread uses the least CPU a
    /// call (the fewest hand-offs between threads), but no more than one CPU; long work (frame
    /// files, large Base64 frames, saving videos, resource reads) has threads of its own.
    #[arg(long, env = "VEO_WORKERS", global = true,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,

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

    /// Most seconds of video (duration × samples) submitted per rolling 24 hours, counting every
    /// submit that may have been paid; a call that would pass it is refused before anything is
    /// sent. Default: no limit.
    #[arg(
        long,
        env = "VEO_MAX_VIDEO_SECONDS_PER_DAY",
        global = true,
        value_name = "SECONDS",
        help_heading = "Spending"
    )]
    pub max_video_seconds_per_day: Option<u64>,

    /// Most seconds of video one call may ask for. Default: no limit.
    #[arg(
        long,
        env = "VEO_MAX_VIDEO_SECONDS_PER_CALL",
        global = true,
        value_name = "SECONDS",
        help_heading = "Spending"
    )]
    pub max_video_seconds_per_call: Option<u64>,

    /// Calls above this many seconds of video are made only after the person confirms (an MCP
    /// host that supports elicitation asks; `generate` asks at a terminal or takes --yes).
    #[arg(
        long,
        env = "VEO_CONFIRM_ABOVE_SECONDS",
        global = true,
        value_name = "SECONDS",
        help_heading = "Spending"
    )]
    pub confirm_above_seconds: Option<u64>,

    /// A model's price per second of video, for estimates: MODEL=PER_SECOND[,audio=PER_SECOND]
    /// (the second with an audio track), e.g. veo-3.1=0.40,audio=0.75. Repeatable; in the
    /// environment, separated by ';'. Without prices, veo speaks in seconds of video.
    #[arg(
        long = "price",
        env = "VEO_PRICES",
        value_delimiter = ';',
        global = true,
        value_name = "MODEL=PRICE",
        help_heading = "Spending"
    )]
    pub prices: Vec<Price>,
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

    /// URL clients reach this server at, e.g. https://veo.example.com: results then carry signed
    /// links to the saved videos, served at /videos/ (HTTP only).
    #[arg(long, env = "VEO_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,

    /// Secret signing the video links (16+ characters; replicas must share it) [default: random
    /// per process: links die with a restart].
    #[arg(long, env = "VEO_VIDEO_LINK_SECRET", hide_env_values = true)]
    pub video_link_secret: Option<String>,

    /// Days a video link stays valid.
    #[arg(long, env = "VEO_VIDEO_LINK_DAYS", default_value_t = crate::links::DEFAULT_DAYS,
          value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub video_link_days: u32,
}

impl CommonArgs {
    /// Resolves flags and environment into a configuration.
    pub fn config(&self) -> Result<Config, veo_core::Error> {
        let client = ClientConfig::from_env()?.with_base_url(&self.base_url)?;
        let config = Config::default()
            .with_client(client)
            .with_default_model(self.default_model)
            .with_max_wait(Duration::from_secs(self.max_wait_seconds))
            .with_output_dir(
                (!self.no_save).then(|| self.output_dir.clone().unwrap_or_else(default_output_dir)),
            )
            .with_journal(
                self.journal
                    .clone()
                    .unwrap_or_else(|| JournalLocation::File(default_journal())),
            )
            .with_lease(Duration::from_secs(self.lease_seconds))
            .with_dedup_window(Duration::from_secs(self.dedup_window_seconds))
            .with_spend_limits(SpendLimits {
                per_day: self.max_video_seconds_per_day,
                per_call: self.max_video_seconds_per_call,
                confirm_above: self.confirm_above_seconds,
                prices: self.prices.clone(),
            });
        Ok(if self.allowed_roots.is_empty() {
            config
        } else {
            config.with_allowed_roots(self.allowed_roots.clone())
        })
    }
}

impl GenerateArgs {
    /// The request these arguments ask for; a model not named is `default_model`. Checking it
    /// is veo-core's job.
    pub fn request(&self, default_model: Model) -> TransitionRequest {
        let mut request = TransitionRequest::new(&self.first, &self.last, &self.prompt);
        request.model = self.model.unwrap_or(default_model);
        request.seed = self.seed;
        request.negative_prompt = self.negative_prompt.clone();
        if let Some(resolution) = self.resolution {
            request.resolution = resolution;
        }
        if let Some(aspect_ratio) = self.aspect_ratio {
            request.aspect_ratio = aspect_ratio;
        }
        if let Some(duration) = self.duration {
            request.duration_seconds = duration;
        }
        if let Some(count) = self.sample_count {
            request.sample_count = count;
        }
        if let Some(enhance) = self.enhance_prompt {
            request.enhance_prompt = enhance;
        }
        if let Some(audio) = self.generate_audio {
            request.generate_audio = audio;
        }
        if let Some(people) = self.person_generation {
            request.person_generation = people;
        }
        request
    }
}

/// The option that sets a request field, for messages: `--sample-count` for `sample_count`.
pub fn option_for(field: &str) -> String {
    match field {
        "image" => "--first".into(),
        "last_image" => "--last".into(),
        "duration_seconds" => "--duration".into(),
        "task_id" => "TASK_ID".into(),
        other => format!("--{}", other.replace('_', "-")),
    }
}

#[cfg(test)]
mod tests;
