//! Progress on stderr: a bar redrawn in place on a terminal (indicatif), one line per update
//! otherwise (pipes, logs).

use std::io::IsTerminal as _;
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::note;

/// Shows progress updates on this process's stderr. Cheap to clone; clones share the bar.
#[derive(Clone)]
pub struct ProgressDisplay {
    /// The bar, drawn from the first update on; `None` when stderr is not a terminal.
    bar: Option<std::sync::Arc<OnceLock<ProgressBar>>>,
}

impl ProgressDisplay {
    /// A display on stderr.
    pub fn stderr() -> ProgressDisplay {
        ProgressDisplay {
            bar: std::io::stderr()
                .is_terminal()
                .then(|| std::sync::Arc::new(OnceLock::new())),
        }
    }

    /// Shows one update: `percent` done (0 to 100) and what is happening.
    pub fn show(&self, percent: f64, message: &str) {
        match &self.bar {
            Some(bar) => {
                let bar = bar.get_or_init(new_bar);
                bar.set_position(percent.clamp(0.0, 100.0).floor() as u64);
                bar.set_message(message.to_string());
            }
            None => note!("progress: {message}"),
        }
    }

    /// Ends a bar drawn in place, leaving it on screen, so the next line starts clean.
    pub fn finish(&self) {
        if let Some(bar) = self.bar.as_ref().and_then(|b| b.get()) {
            bar.abandon();
        }
    }
}

fn new_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(100), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("[{bar:24}] {pos:>3}%  {wide_msg}  {elapsed}") {
        bar.set_style(style.progress_chars("#-"));
    }
    bar.enable_steady_tick(Duration::from_secs(1));
    bar
}
