//! The command line for people and scripts: `generate`, `status` and `tasks`, and the in-process
//! MCP connection they (and `demo`) use.
//!
//! Each command starts a [`VeoServer`] in this process and calls its tools through an MCP client
//! over an in-memory pipe. The command line therefore gets exactly the server's validation,
//! journal, deduplication, saving and progress reports, and `--json` prints exactly the tools'
//! structured results. Tool errors carry their class in `_meta` ([`ERROR_KIND_META`]), which
//! picks the [`Exit`] code.

use std::io::{IsTerminal as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{CallToolRequestParams, CallToolResult, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt as _};
use serde_json::{Map, Value, json};

use crate::config::{CommonArgs, GenerateArgs, StatusArgs, TasksArgs};
use crate::server::{ERROR_KIND_META, GENERATE_TOOL, LIST_TOOL, RESULT_TOOL};
use crate::{Config, VeoServer};

/// Like `println!`, but a closed stdout (`veo-mcp tasks | head -1`) is not an error.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// Like `eprintln!`, but a closed stderr is not an error.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub(crate) use {note, out};

/// Longest wait of one `get_task_result` call made by the command line; longer waits are made
/// of several calls.
const CALL_WAIT_CAP: u64 = 300;

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
    /// Interrupted with Ctrl-C.
    Interrupted = 130,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The exit code for a tool error of this class (see [`crate::server::error_kind`]).
    pub fn for_error_kind(kind: &str) -> Exit {
        match kind {
            "invalid_input" => Exit::InvalidInput,
            "missing_api_key" | "auth" => Exit::Auth,
            "upstream"
            | "rate_limited"
            | "not_found"
            | "bad_response"
            | "submit_outcome_unknown"
            | "link_expired" => Exit::Failed,
            "cancelled" => Exit::Interrupted,
            _ => Exit::Other,
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

// ---------------------------------------------------------------------------------------------
// Progress on stderr

/// Shows MCP progress notifications on stderr: a bar redrawn in place on a terminal, one line
/// per notification otherwise (pipes, logs).
#[derive(Clone)]
pub struct ProgressDisplay {
    state: Arc<Mutex<DisplayState>>,
}

struct DisplayState {
    tty: bool,
    started: Instant,
    drawn: bool,
}

const BAR_WIDTH: usize = 24;

impl ProgressDisplay {
    /// A display on this process's stderr.
    pub fn stderr() -> ProgressDisplay {
        ProgressDisplay {
            state: Arc::new(Mutex::new(DisplayState {
                tty: std::io::stderr().is_terminal(),
                started: Instant::now(),
                drawn: false,
            })),
        }
    }

    /// Shows one notification.
    pub fn show(&self, progress: &ProgressNotificationParam) {
        let total = progress.total.filter(|t| *t > 0.0).unwrap_or(100.0);
        let percent = (progress.progress / total * 100.0).clamp(0.0, 100.0);
        let message = progress.message.as_deref().unwrap_or("");
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut err = std::io::stderr().lock();
        if state.tty {
            let filled = ((percent / 100.0) * BAR_WIDTH as f64).round() as usize;
            let elapsed = state.started.elapsed().as_secs();
            let _ = write!(
                err,
                "\r\x1b[2K[{}{}] {:>3.0}%  {}  {}:{:02}",
                "#".repeat(filled.min(BAR_WIDTH)),
                "-".repeat(BAR_WIDTH - filled.min(BAR_WIDTH)),
                percent.floor(),
                message,
                elapsed / 60,
                elapsed % 60
            );
            state.drawn = true;
        } else {
            let _ = writeln!(err, "progress: {message}");
        }
        let _ = err.flush();
    }

    /// Ends a bar drawn in place, so the next line starts clean.
    pub fn finish(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.drawn {
            note!();
            state.drawn = false;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// In-process MCP connection

/// The MCP client side: forwards progress notifications to a [`ProgressDisplay`].
#[derive(Clone)]
pub struct ProgressClient {
    display: Option<ProgressDisplay>,
}

impl ClientHandler for ProgressClient {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        if let Some(display) = &self.display {
            display.show(&params);
        }
    }
}

/// An MCP client connected to a [`VeoServer`] running in this process, over an in-memory pipe.
pub struct Session {
    client: RunningService<RoleClient, ProgressClient>,
}

impl Session {
    /// Serves `server` on one end of a pipe and connects a client to the other (MCP
    /// `initialize` included). Progress notifications go to `display`, if any.
    pub async fn connect(
        server: VeoServer,
        display: Option<ProgressDisplay>,
    ) -> Result<Session, Failure> {
        let (server_end, client_end) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            match server.serve(server_end).await {
                Ok(running) => {
                    let _ = running.waiting().await;
                }
                Err(e) => tracing::error!("the in-process MCP server did not start: {e}"),
            }
        });
        let client = ProgressClient { display }
            .serve(client_end)
            .await
            .map_err(|e| {
                Failure::new(
                    Exit::Other,
                    format!("cannot connect to the MCP server: {e}"),
                )
            })?;
        Ok(Session { client })
    }

    /// Calls `tool` with `args` (a JSON object) and returns the tool's result as is.
    pub async fn call(&self, tool: &str, args: Value) -> Result<CallToolResult, Failure> {
        let Value::Object(args) = args else {
            return Err(Failure::new(
                Exit::Other,
                "tool arguments must be an object",
            ));
        };
        self.client
            .peer()
            .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(args))
            .await
            .map_err(|e| Failure::new(Exit::Other, format!("the {tool} call failed: {e}")))
    }

    /// Calls `tool` and returns its structured result, or the tool error as a [`Failure`].
    pub async fn call_structured(&self, tool: &str, args: Value) -> Result<Value, Failure> {
        let result = self.call(tool, args).await?;
        structured_or_failure(&result)
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = self.client.cancel().await;
    }
}

/// The text of a tool result's first content block.
pub fn result_text(result: &CallToolResult) -> String {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// A tool result's structured content; a tool error becomes a [`Failure`] whose exit code
/// follows the error's class.
pub fn structured_or_failure(result: &CallToolResult) -> Result<Value, Failure> {
    if result.is_error == Some(true) {
        let kind = result
            .meta
            .as_ref()
            .and_then(|m| m.0.get(ERROR_KIND_META))
            .and_then(Value::as_str)
            .unwrap_or("");
        return Err(Failure::new(
            Exit::for_error_kind(kind),
            for_the_command_line(kind, &result_text(result)),
        ));
    }
    result.structured_content.clone().ok_or_else(|| {
        Failure::new(
            Exit::Other,
            format!(
                "the tool returned no structured result: {}",
                result_text(result)
            ),
        )
    })
}

/// Tool field names as command-line options, for error messages.
const FLAG_NAMES: [(&str, &str); 14] = [
    ("image", "--first"),
    ("last_image", "--last"),
    ("prompt", "--prompt"),
    ("model", "--model"),
    ("seed", "--seed"),
    ("resolution", "--resolution"),
    ("aspect_ratio", "--aspect-ratio"),
    ("sample_count", "--sample-count"),
    ("enhance_prompt", "--enhance-prompt"),
    ("generate_audio", "--generate-audio"),
    ("negative_prompt", "--negative-prompt"),
    ("duration_seconds", "--duration"),
    ("person_generation", "--person-generation"),
    ("task_id", "TASK_ID"),
];

/// Rewrites a tool error's text for a person at a terminal: no "Error:" prefix, problems named
/// by their options, and the agent-oriented advice (its last line) replaced where the command
/// line has its own.
fn for_the_command_line(kind: &str, text: &str) -> String {
    let text = text.strip_prefix("Error: ").unwrap_or(text);
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| match line.strip_prefix("- ") {
            Some(problem) => {
                let renamed = FLAG_NAMES.iter().find_map(|(field, flag)| {
                    let rest = problem.strip_prefix(field)?;
                    (rest.starts_with(' ') || rest.starts_with(':'))
                        .then(|| format!("- {flag}{rest}"))
                });
                renamed.unwrap_or_else(|| line.to_string())
            }
            None => line.to_string(),
        })
        .collect();
    let advice = match kind {
        "invalid_input" => Some("Fix the options above; nothing was sent and nothing was charged."),
        "missing_api_key" => Some(
            "Set JIEKOU_API_KEY to a key from the JieKou console (or try `veo-mcp demo`, which needs none). Nothing was sent.",
        ),
        "auth" => Some("Check JIEKOU_API_KEY; retrying with the same key will not help."),
        "not_found" => {
            Some("Use a task id printed by `veo-mcp generate` or shown by `veo-mcp tasks`.")
        }
        "submit_outcome_unknown" => Some(
            "Check `veo-mcp tasks` in a minute before submitting again; --allow-duplicate submits anyway, at the risk of paying twice.",
        ),
        "submit_in_progress" => Some(
            "Run `veo-mcp tasks` in a minute to see its task id, then `veo-mcp status TASK_ID --wait 300`.",
        ),
        _ => None,
    };
    if let Some(advice) = advice {
        if lines.len() > 1 {
            lines.pop();
        }
        lines.push(advice.to_string());
    }
    lines.join("\n")
}

// ---------------------------------------------------------------------------------------------
// Commands

/// The configuration a command-line command runs with: flags and environment as for the
/// server, but no resuming of journal tasks in the background (the process exits soon) and a
/// per-call wait long enough that the command, not the MCP host limit, decides how long to wait.
fn command_config(common: &CommonArgs) -> Result<Config, Failure> {
    let mut config = Config::from_args(common)
        .map_err(|e| Failure::new(Exit::InvalidInput, format!("invalid settings: {e}")))?;
    config.resume = false;
    config.max_wait = Duration::from_secs(CALL_WAIT_CAP);
    Ok(config)
}

async fn start(config: Config, display: Option<ProgressDisplay>) -> Result<Session, Failure> {
    let server = VeoServer::start(config)
        .await
        .map_err(|e| Failure::new(Exit::Other, format!("cannot start: {e}")))?;
    Session::connect(server, display).await
}

/// Local frame files named on the command line may be read wherever they are: the user chose
/// them (the allowed roots guard against an agent reaching for files, not a person).
fn allow_frame_dirs(config: &mut Config, frames: [&str; 2]) {
    for frame in frames {
        if let Ok(veo_core::image::FrameInput::File(path)) = veo_core::image::classify(frame) {
            let path = std::fs::canonicalize(&path).unwrap_or(path);
            if let Some(dir) = path.parent() {
                config.image_policy.allowed_roots.push(dir.to_path_buf());
            }
        }
    }
}

/// The `generate_transition_video` arguments for `args`; checking them is the tool's job.
fn generate_arguments(args: &GenerateArgs) -> Value {
    let mut m = Map::new();
    m.insert("image".into(), json!(args.first));
    m.insert("last_image".into(), json!(args.last));
    m.insert("prompt".into(), json!(args.prompt));
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            m.insert(key.into(), v);
        }
    };
    put("model", args.model.as_ref().map(|v| json!(v)));
    put("resolution", args.resolution.as_ref().map(|v| json!(v)));
    put("aspect_ratio", args.aspect_ratio.as_ref().map(|v| json!(v)));
    put(
        "duration_seconds",
        args.duration.as_ref().map(|v| {
            v.parse::<u64>()
                .map(|n| json!(n))
                .unwrap_or_else(|_| json!(v))
        }),
    );
    put("seed", args.seed.map(|v| json!(v)));
    put("sample_count", args.sample_count.map(|v| json!(v)));
    put(
        "negative_prompt",
        args.negative_prompt.as_ref().map(|v| json!(v)),
    );
    put("enhance_prompt", args.enhance_prompt.map(|v| json!(v)));
    put("generate_audio", args.generate_audio.map(|v| json!(v)));
    put(
        "person_generation",
        args.person_generation.as_ref().map(|v| json!(v)),
    );
    put(
        "allow_duplicate",
        args.allow_duplicate.then_some(json!(true)),
    );
    Value::Object(m)
}

/// `veo-mcp generate`.
pub async fn generate(args: GenerateArgs, common: &CommonArgs) -> Result<Exit, Failure> {
    let mut config = command_config(common)?;
    allow_frame_dirs(&mut config, [&args.first, &args.last]);
    let saving = config.output_dir.is_some();
    let display = ProgressDisplay::stderr();
    let session = start(config, Some(display.clone())).await?;
    let outcome = generate_in(&session, &args, saving, &display).await;
    session.close().await;
    outcome
}

async fn generate_in(
    session: &Session,
    args: &GenerateArgs,
    saving: bool,
    display: &ProgressDisplay,
) -> Result<Exit, Failure> {
    let reply = session
        .call(GENERATE_TOOL, generate_arguments(args))
        .await?;
    let submitted = structured_or_failure(&reply)?;
    let task_id = task_id_of(&submitted);
    if let Some(summary) = result_text(&reply).lines().next() {
        note!("{summary}");
    }
    if submitted.get("deduplicated") == Some(&Value::Bool(true)) {
        note!("(--allow-duplicate submits and pays again)");
    }
    for warning in submitted
        .get("warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        note!("warning: {warning}");
    }
    if args.no_wait {
        if args.output.json {
            print_json(&json!({ "submitted": submitted }));
        } else {
            out!("task:    {task_id}");
            out!("status:  submitted");
            note!("Check it with: veo-mcp status {task_id} --wait 300");
        }
        return Ok(Exit::Ok);
    }
    note!(
        "Waiting up to {} s (Ctrl-C stops waiting; the task goes on)…",
        args.wait
    );
    let report = wait_interruptibly(
        session,
        &task_id,
        Duration::from_secs(args.wait),
        saving,
        display,
    )
    .await
    .map_err(|f| match f.exit {
        Exit::Interrupted => f,
        exit => Failure::new(
            exit,
            format!(
                "task {task_id} was submitted, but waiting for it failed: {}\nCheck it later with: veo-mcp status {task_id} --wait 300",
                f.message
            ),
        ),
    })?;
    if args.output.json {
        print_json(&json!({ "submitted": submitted, "result": report }));
    } else {
        print_report(&report);
    }
    Ok(report_exit(&report, &task_id, args.wait > 0, saving))
}

/// `veo-mcp status`.
pub async fn status(args: StatusArgs, common: &CommonArgs) -> Result<Exit, Failure> {
    let config = command_config(common)?;
    let saving = config.output_dir.is_some();
    let display = ProgressDisplay::stderr();
    let session = start(config, Some(display.clone())).await?;
    let outcome = async {
        let report = wait_interruptibly(
            &session,
            &args.task_id,
            Duration::from_secs(args.wait),
            saving,
            &display,
        )
        .await?;
        if args.output.json {
            print_json(&report);
        } else {
            print_report(&report);
        }
        Ok(report_exit(&report, &args.task_id, args.wait > 0, saving))
    }
    .await;
    session.close().await;
    outcome
}

/// `veo-mcp tasks`.
pub async fn tasks(args: TasksArgs, common: &CommonArgs) -> Result<Exit, Failure> {
    let config = command_config(common)?;
    let session = start(config, None).await?;
    let mut query = json!({ "limit": args.limit });
    if let Some(status) = &args.status {
        query["status"] = json!(status);
    }
    let outcome = session.call(LIST_TOOL, query).await.and_then(|reply| {
        let list = structured_or_failure(&reply)?;
        if args.output.json {
            print_json(&list);
        } else {
            out!("{}", result_text(&reply));
        }
        Ok(Exit::Ok)
    });
    session.close().await;
    outcome
}

/// Waits as [`wait_for`] does, but Ctrl-C ends the wait with [`Exit::Interrupted`] and a hint
/// (the task itself goes on).
async fn wait_interruptibly(
    session: &Session,
    task_id: &str,
    wait: Duration,
    saving: bool,
    display: &ProgressDisplay,
) -> Result<Value, Failure> {
    let outcome = tokio::select! {
        outcome = wait_for(session, task_id, wait, saving) => outcome,
        _ = tokio::signal::ctrl_c() => Err(Failure::new(
            Exit::Interrupted,
            format!("interrupted; task {task_id} goes on. Check it with: veo-mcp status {task_id} --wait 300"),
        )),
    };
    display.finish();
    outcome
}

/// Calls `get_task_result` until the task is done or `wait` has passed (one look when `wait` is
/// zero), then, for a succeeded task, until its videos are saved (when saving is on).
async fn wait_for(
    session: &Session,
    task_id: &str,
    wait: Duration,
    saving: bool,
) -> Result<Value, Failure> {
    // A wait too long to represent is as good as a year.
    let deadline = Instant::now()
        .checked_add(wait)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(365 * 24 * 3600));
    let mut report = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let seconds = (remaining.as_secs_f64().ceil() as u64).min(CALL_WAIT_CAP);
        let report = session
            .call_structured(
                RESULT_TOOL,
                json!({ "task_id": task_id, "wait_seconds": seconds }),
            )
            .await?;
        if is_done(&report) || seconds == 0 || Instant::now() >= deadline {
            break report;
        }
    };
    // A succeeded task's videos are saved by the server during the call, within what is left
    // of the call's wait; if that was not enough, the download goes on, and a call on a
    // finished task waits (up to its wait_seconds) for the save before answering. The process
    // must not exit while a download is under way, or the video would not be saved.
    for _ in 0..3 {
        if !(saving && status_of(&report) == "succeeded" && unsaved_videos(&report) > 0) {
            break;
        }
        report = session
            .call_structured(
                RESULT_TOOL,
                json!({ "task_id": task_id, "wait_seconds": CALL_WAIT_CAP }),
            )
            .await?;
    }
    Ok(report)
}

/// The `task_id` of a tool's structured result ("" if absent).
pub fn task_id_of(result: &Value) -> String {
    result
        .get("task_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn is_done(report: &Value) -> bool {
    report.get("done").and_then(Value::as_bool).unwrap_or(false)
}

fn status_of(report: &Value) -> &str {
    report.get("status").and_then(Value::as_str).unwrap_or("")
}

fn videos(report: &Value) -> &[Value] {
    report
        .get("videos")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn unsaved_videos(report: &Value) -> usize {
    videos(report)
        .iter()
        .filter(|v| v.get("saved_path").is_none())
        .count()
}

/// The exit code for a `get_task_result` report, with a hint on stderr when it is not 0.
fn report_exit(report: &Value, task_id: &str, waited: bool, saving: bool) -> Exit {
    match status_of(report) {
        "failed" => {
            note!(
                "The task failed: {}",
                report
                    .get("failure_reason")
                    .and_then(Value::as_str)
                    .unwrap_or("no reason given")
            );
            Exit::Failed
        }
        "succeeded" if saving && unsaved_videos(report) > 0 => {
            note!(
                "The video was made but could not be saved (see `veo-mcp tasks` for why); its URL works until it expires."
            );
            Exit::Other
        }
        _ if is_done(report) || !waited => Exit::Ok,
        _ => {
            note!(
                "Still running when the wait ended. Check it with: veo-mcp status {task_id} --wait 300"
            );
            Exit::StillRunning
        }
    }
}

/// Prints a `get_task_result` report for people.
fn print_report(report: &Value) {
    let text = |key: &str| report.get(key).and_then(Value::as_str).unwrap_or("");
    out!("task:    {}", text("task_id"));
    let mut status = status_of(report).to_string();
    if !is_done(report) {
        if let Some(p) = report.get("progress_percent").and_then(Value::as_u64) {
            status.push_str(&format!(", {p}%"));
        }
        if let Some(eta) = report
            .get("eta_seconds")
            .and_then(Value::as_u64)
            .filter(|e| *e > 0)
        {
            status.push_str(&format!(", about {eta} s left"));
        }
    }
    if let Some(reason) = report.get("failure_reason").and_then(Value::as_str) {
        status.push_str(&format!(": {reason}"));
    }
    out!("status:  {status}");
    for video in videos(report) {
        if let Some(path) = video.get("saved_path").and_then(Value::as_str) {
            out!("saved:   {path}");
        }
        if let Some(url) = video.get("url").and_then(Value::as_str) {
            match video.get("expires_at").and_then(Value::as_str) {
                Some(at) => out!("url:     {url} (expires {at})"),
                None => out!("url:     {url}"),
            }
        }
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    out!("{text}");
}

/// Installs a stderr logger for the commands: warnings only unless `RUST_LOG` says otherwise,
/// so the progress display is not interleaved with routine logs.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_classes_pick_exit_codes() {
        assert_eq!(Exit::for_error_kind("invalid_input"), Exit::InvalidInput);
        assert_eq!(Exit::for_error_kind("missing_api_key"), Exit::Auth);
        assert_eq!(Exit::for_error_kind("auth"), Exit::Auth);
        assert_eq!(Exit::for_error_kind("upstream"), Exit::Failed);
        assert_eq!(Exit::for_error_kind("not_found"), Exit::Failed);
        assert_eq!(Exit::for_error_kind("network"), Exit::Other);
        assert_eq!(Exit::for_error_kind(""), Exit::Other);
    }

    #[test]
    fn tool_errors_read_like_command_line_errors() {
        let text = "Error: invalid input (2 problems); nothing was sent\n- sample_count (got 9): must be 1 to 4\n- image: the file does not exist\nFix the fields above and call again.";
        let message = for_the_command_line("invalid_input", text);
        assert!(
            message.starts_with("invalid input (2 problems)"),
            "{message}"
        );
        assert!(message.contains("- --sample-count (got 9): must be 1 to 4"));
        assert!(message.contains("- --first: the file does not exist"));
        assert!(!message.contains("call again"), "{message}");
    }
}
