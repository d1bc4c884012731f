//! The settings of veo-mcp: one [`Config`], built from `Default` with `with_*` methods. The
//! command line turns flags and environment into one (`cli::args`); tests and embedders build
//! it directly.

use std::path::PathBuf;
use std::time::Duration;

use veo_core::{ClientConfig, ImagePolicy, Model};

use crate::journal::JournalLocation;
use crate::links::VideoLinks;
use crate::spend::SpendLimits;

/// Longest `wait_seconds` a single `get_task_result` call may use by default: below the ~60 s
/// after which many MCP hosts abandon a tool call.
pub const DEFAULT_MAX_WAIT_SECONDS: u64 = 50;

/// How long a claim to follow a task lasts unrenewed, by default.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// How the background watcher polls a task it follows.
#[derive(Clone, Debug)]
pub struct PollTiming {
    /// Delay before the first poll after a submit.
    pub first: Duration,
    /// Shortest delay between polls.
    pub min: Duration,
    /// Longest delay between polls.
    pub max: Duration,
    /// Shortest delay when the task's eta says it is about to end: links may live only seconds
    /// after completion, so a result is worth seeing soon.
    pub near_end: Duration,
}

impl Default for PollTiming {
    /// First poll after 3 s, then every 5 to 20 s following the task's eta, and as soon as 1 s
    /// apart when the eta says the task is about to end.
    fn default() -> Self {
        PollTiming {
            first: Duration::from_secs(3),
            min: Duration::from_secs(5),
            max: Duration::from_secs(20),
            near_end: Duration::from_secs(1),
        }
    }
}

/// Everything veo-mcp needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// How to reach the platform (key, base URL, timeouts, retries).
    pub client: ClientConfig,
    /// Model for requests that do not name one.
    pub default_model: Model,
    /// Where local frames may be read from.
    pub image_policy: ImagePolicy,
    /// Cap on how long one `get_task_result` call waits.
    pub max_wait: Duration,
    /// Where videos are saved; `None` when saving is off.
    pub output_dir: Option<PathBuf>,
    /// Where the task journal lives.
    pub journal: JournalLocation,
    /// How long an identical request is answered with the earlier task.
    pub dedup_window: Duration,
    /// How the background watcher polls.
    pub watch: PollTiming,
    /// How long a process's claim to follow a task lasts unrenewed: when a process that shares
    /// the journal stops, another takes its tasks over within this time (plus a third of it).
    pub lease: Duration,
    /// Spend limits, confirmation threshold and prices.
    pub spend: SpendLimits,
    /// Whether a background watcher follows submitted tasks, saves their videos unasked and
    /// picks up the journal's unfinished tasks at start (the server does; a one-shot command
    /// does not, as it exits soon after).
    pub background: bool,
    /// How signed links to saved videos are made (`serve --http` with a public URL); `None`:
    /// results carry no such link.
    pub video_links: Option<VideoLinks>,
}

impl Default for Config {
    /// The platform's public API (the key from nowhere: set one), the default model, frames
    /// from the current and home directories, 50 s waits, videos saved to
    /// [`default_output_dir`], the journal at [`default_journal`], a 600 s dedup window, no spend
    /// limits and a background watcher.
    fn default() -> Self {
        Config {
            client: ClientConfig {
                user_agent: concat!("veo-mcp/", env!("CARGO_PKG_VERSION")).to_string(),
                ..ClientConfig::default()
            },
            default_model: Model::default(),
            image_policy: ImagePolicy::default(),
            max_wait: Duration::from_secs(DEFAULT_MAX_WAIT_SECONDS),
            output_dir: Some(default_output_dir()),
            journal: JournalLocation::File(default_journal()),
            dedup_window: Duration::from_secs(600),
            watch: PollTiming::default(),
            lease: DEFAULT_LEASE,
            spend: SpendLimits::default(),
            background: true,
            video_links: None,
        }
    }
}

impl Config {
    /// Sets how to reach the platform (the user agent stays veo-mcp's).
    pub fn with_client(mut self, client: ClientConfig) -> Config {
        let user_agent = std::mem::take(&mut self.client.user_agent);
        self.client = ClientConfig {
            user_agent,
            ..client
        };
        self
    }

    /// Sets the model for requests that do not name one.
    pub fn with_default_model(mut self, model: Model) -> Config {
        self.default_model = model;
        self
    }

    /// Sets the directories local frames may be read from.
    pub fn with_allowed_roots(mut self, roots: Vec<PathBuf>) -> Config {
        self.image_policy.allowed_roots = roots;
        self
    }

    /// Sets the cap on one `get_task_result` call's wait.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Config {
        self.max_wait = max_wait;
        self
    }

    /// Sets where videos are saved; `None` turns saving off.
    pub fn with_output_dir(mut self, dir: Option<PathBuf>) -> Config {
        self.output_dir = dir;
        self
    }

    /// Sets where the journal lives.
    pub fn with_journal(mut self, journal: JournalLocation) -> Config {
        self.journal = journal;
        self
    }

    /// Sets the dedup window (zero turns deduplication off).
    pub fn with_dedup_window(mut self, window: Duration) -> Config {
        self.dedup_window = window;
        self
    }

    /// Sets how long a claim to follow a task lasts unrenewed (at least one second).
    pub fn with_lease(mut self, lease: Duration) -> Config {
        self.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// Sets how the background watcher polls.
    pub fn with_poll_timing(mut self, timing: PollTiming) -> Config {
        self.watch = timing;
        self
    }

    /// Sets the spend limits, confirmation threshold and prices.
    pub fn with_spend_limits(mut self, spend: SpendLimits) -> Config {
        self.spend = spend;
        self
    }

    /// Sets how signed links to saved videos are made (`None`: no links).
    pub fn with_video_links(mut self, links: Option<VideoLinks>) -> Config {
        self.video_links = links;
        self
    }

    /// Turns the background watcher on or off.
    pub fn with_background(mut self, background: bool) -> Config {
        self.background = background;
        self
    }
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
