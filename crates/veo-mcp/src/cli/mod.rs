//! The command line for people and scripts: `generate`, `status` and `tasks`, thin adapters
//! over the [`App`] (as cargo's commands are over its `ops`): arguments become a typed request,
//! the app does the work, the typed report is printed (`--json` prints it as the tools return
//! it), and the [`crate::app::AppError`]'s class picks the [`Exit`] code. A command
//! runs no background watcher: whatever it leaves unfinished, the next server start resumes
//! from the journal.

pub mod args;
pub mod exit;
mod journal_arg;
pub mod progress;

use std::time::Duration;

use serde::Serialize;
use veo_core::TaskStatus;

pub use exit::{Exit, Failure};
pub use progress::ProgressDisplay;

use crate::app::report::status_phrase;
use crate::app::{App, AppError, ResultOptions, TaskReport};
use crate::config::Config;
use crate::spend::{Confirm, ConfirmRequest, Confirmation};
use args::{CommonArgs, GenerateArgs, StatusArgs, TasksArgs};

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

pub(crate) use note;
#[cfg(feature = "demo")]
pub(crate) use out;

/// Longest a command waits for a finished task's videos to be saved.
const SAVE_WAIT: Duration = Duration::from_secs(900);

/// The configuration a command runs with: flags and environment as for the server, but no
/// background watcher (the process exits soon) and no cap on one wait (the command's `--wait`
/// decides, not an MCP host's patience).
fn command_config(common: &CommonArgs) -> Result<Config, Failure> {
    let config = common
        .config()
        .map_err(|e| Failure::new(Exit::InvalidInput, format!("invalid settings: {e}")))?;
    Ok(config.with_background(false).with_max_wait(Duration::MAX))
}

async fn start(config: Config) -> Result<App, Failure> {
    App::start(config).await.map_err(|e| {
        let failure = Failure::from(e);
        Failure::new(failure.exit, format!("cannot start: {}", failure.message))
    })
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

/// `veo-mcp generate`.
pub async fn generate(args: GenerateArgs, common: &CommonArgs) -> Result<Exit, Failure> {
    let mut config = command_config(common)?;
    allow_frame_dirs(&mut config, [&args.first, &args.last]);
    let request = args.request(config.default_model);
    let prepared = veo_core::prepare(request, &config.image_policy)
        .await
        .map_err(|invalid| Failure::from(AppError::from(invalid)))?;
    let app = start(config).await?;
    let ask = AtTheTerminal { yes: args.yes };
    let submitted = app.submit(&prepared, args.allow_duplicate, &ask).await?;
    let task_id = submitted.task_id.clone();
    note!("{}", submitted.summary());
    if submitted.deduplicated {
        note!("(--allow-duplicate submits and pays again)");
    }
    for warning in &submitted.warnings {
        note!("warning: {warning}");
    }
    if args.no_wait {
        if args.output.json {
            print_json(&serde_json::json!({ "submitted": submitted }));
        } else {
            out!("task:    {task_id}");
            out!("status:  submitted");
            note!("Check it with: veo-mcp status {task_id} --wait 300");
        }
        return Ok(Exit::Ok);
    }
    note!(
        "Waiting up to {} s the get_task_result way: polling the task, progress as it comes (Ctrl-C stops waiting; the task goes on)…",
        args.wait
    );
    let report = wait_for(&app, &task_id, args.wait)
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
    let json = args
        .output
        .json
        .then(|| serde_json::json!({ "submitted": submitted, "result": report }));
    Ok(finish(&app, &report, args.wait > 0, json))
}

/// Confirmation at the command line: `--yes`, or a question on stderr answered on stdin when
/// both are a terminal; otherwise nobody can be asked.
struct AtTheTerminal {
    yes: bool,
}

#[async_trait::async_trait]
impl Confirm for AtTheTerminal {
    async fn confirm(&self, request: &ConfirmRequest) -> Confirmation {
        use std::io::IsTerminal as _;
        if self.yes {
            return Confirmation::Accepted;
        }
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Confirmation::Unavailable;
        }
        let question = format!("{} [y/N] ", request.message);
        let answer = tokio::task::spawn_blocking(move || {
            use std::io::Write as _;
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "{question}");
            let _ = err.flush();
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await;
        match answer {
            Ok(Ok(line)) if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") => {
                Confirmation::Accepted
            }
            _ => Confirmation::Declined,
        }
    }
}

/// `veo-mcp status`.
pub async fn status(args: StatusArgs, common: &CommonArgs) -> Result<Exit, Failure> {
    let config = command_config(common)?;
    let task_id = veo_core::validate::task_id(&args.task_id)
        .map_err(|problem| {
            Failure::from(AppError::Invalid(veo_core::InvalidInput {
                problems: vec![problem],
            }))
        })?
        .to_string();
    let app = start(config).await?;
    if args.wait > 0 {
        note!(
            "Waiting up to {} s the get_task_result way: polling the task, progress as it comes…",
            args.wait
        );
    }
    let report = wait_for(&app, &task_id, args.wait).await?;
    let json = args
        .output
        .json
        .then(|| serde_json::to_value(&report).unwrap_or_default());
    Ok(finish(&app, &report, args.wait > 0, json))
}

/// `veo-mcp tasks`.
pub async fn tasks(args: TasksArgs, common: &CommonArgs) -> Result<Exit, Failure> {
    let app = start(command_config(common)?).await?;
    let list = app.list(args.status, args.limit).await?;
    if args.output.json {
        print_json(&list);
    } else {
        out!("{}", list.text());
    }
    Ok(Exit::Ok)
}

/// Waits up to `wait` seconds for the task to end (one look when zero), with progress on
/// stderr, then for a succeeded task's videos to be saved. Ctrl-C ends the wait with
/// [`Exit::Interrupted`] and a hint (the task itself goes on).
async fn wait_for(app: &App, task_id: &str, wait: u64) -> Result<TaskReport, Failure> {
    let display = ProgressDisplay::stderr();
    let shown = display.clone();
    let options = ResultOptions {
        wait_seconds: Some(wait),
        save_budget: Some(SAVE_WAIT),
        ..ResultOptions::default()
    };
    let waiting = app.result(task_id, options, move |r| {
        let percent = if r.status == TaskStatus::Succeeded {
            100.0
        } else {
            f64::from(r.progress_percent.unwrap_or(0))
        };
        shown.show(
            percent,
            &status_phrase(r.status, r.progress_percent, r.eta_seconds),
        );
    });
    let outcome = tokio::select! {
        outcome = waiting => outcome.map_err(Failure::from),
        _ = tokio::signal::ctrl_c() => Err(Failure::new(
            Exit::Interrupted,
            format!("interrupted; task {task_id} goes on. Check it with: veo-mcp status {task_id} --wait 300"),
        )),
    };
    display.finish();
    outcome
}

/// Prints a result (`json` with `--json`, else for people) and says how the command ends.
fn finish(app: &App, report: &TaskReport, waited: bool, json: Option<serde_json::Value>) -> Exit {
    match json {
        Some(json) => print_json(&json),
        None => print_report(report),
    }
    report_exit(report, waited, app.config().output_dir.is_some())
}

/// The exit code for a result, with a hint on stderr when it is not 0.
fn report_exit(report: &TaskReport, waited: bool, saving: bool) -> Exit {
    match report.status {
        TaskStatus::Failed => {
            note!(
                "The task failed: {}",
                report
                    .failure_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            );
            Exit::Failed
        }
        TaskStatus::Succeeded if report.videos.is_empty() => {
            note!(
                "The task succeeded but the platform gave no video link yet. Check it again with: veo-mcp status {} --wait 60",
                report.task_id
            );
            Exit::Other
        }
        TaskStatus::Succeeded if saving && report.unsaved_videos() > 0 => {
            note!(
                "The video was made but could not be saved (see `veo-mcp tasks` for why); its URL works until it expires."
            );
            Exit::Other
        }
        _ if report.done || !waited => Exit::Ok,
        _ => {
            note!(
                "Still running when the wait ended. Check it with: veo-mcp status {} --wait 300",
                report.task_id
            );
            Exit::StillRunning
        }
    }
}

/// Prints a result for people.
fn print_report(report: &TaskReport) {
    out!("task:    {}", report.task_id);
    let mut status = if report.done {
        report.status.as_str().to_string()
    } else {
        status_phrase(report.status, report.progress_percent, report.eta_seconds)
    };
    if let Some(reason) = &report.failure_reason {
        status.push_str(&format!(": {reason}"));
    }
    out!("status:  {status}");
    for video in &report.videos {
        if let Some(path) = &video.saved_path {
            out!("saved:   {path}");
        }
        match &video.expires_at {
            Some(at) => out!("url:     {} (expires {at})", video.url),
            None => out!("url:     {}", video.url),
        }
    }
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &impl Serialize) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    out!("{text}");
}
