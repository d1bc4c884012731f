//! What this process remembers of tasks between result calls, to spare the journal: the entries
//! of tasks finished for good (answered from memory, see `App::finished_in_journal`), and the
//! tasks its last look saw still working, whose journal entry cannot answer a call (the platform
//! is asked anyway), so it is not read.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use veo_core::TaskStatus;

use crate::journal::TaskEntry;
use crate::saver::lock;

/// Tasks remembered at most, of each kind; past it that memory starts afresh.
const REMEMBERED: usize = 4096;

/// Finished entries and working tasks, by task id.
#[derive(Default)]
pub(super) struct Remembered {
    finished: Mutex<HashMap<String, TaskEntry>>,
    working: Mutex<HashSet<String>>,
}

impl Remembered {
    /// The entry of `task_id` if it finished for good and was answered from the journal.
    pub(super) fn finished(&self, task_id: &str) -> Option<TaskEntry> {
        lock(&self.finished).get(task_id).cloned()
    }

    /// Remembers the entry of a task finished for good.
    pub(super) fn remember_finished(&self, task_id: &str, entry: &TaskEntry) {
        let mut finished = lock(&self.finished);
        if finished.len() >= REMEMBERED && !finished.contains_key(task_id) {
            finished.clear();
        }
        finished.insert(task_id.to_string(), entry.clone());
    }

    /// Forgets a finished entry that can no longer answer (a file gone, links expiring).
    pub(super) fn forget_finished(&self, task_id: &str) {
        lock(&self.finished).remove(task_id);
    }

    /// Whether this process's last look at `task_id` saw it still working. Another process
    /// sharing the journal may have seen it finish since; the platform, asked anyway, says so.
    pub(super) fn working(&self, task_id: &str) -> bool {
        lock(&self.working).contains(task_id)
    }

    /// Remembers the status a look at `task_id` saw.
    pub(super) fn saw(&self, task_id: &str, status: TaskStatus) {
        let mut working = lock(&self.working);
        if status.is_terminal() {
            working.remove(task_id);
        } else if !working.contains(task_id) {
            if working.len() >= REMEMBERED {
                working.clear();
            }
            working.insert(task_id.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_is_working_from_a_look_that_saw_it_working_until_one_saw_it_end() {
        let remembered = Remembered::default();
        assert!(!remembered.working("t"));
        remembered.saw("t", TaskStatus::Queued);
        remembered.saw("t", TaskStatus::Processing);
        assert!(remembered.working("t"));
        assert!(!remembered.working("other"));
        remembered.saw("t", TaskStatus::Succeeded);
        assert!(!remembered.working("t"));
        remembered.saw("f", TaskStatus::Processing);
        remembered.saw("f", TaskStatus::Failed);
        assert!(!remembered.working("f"));
    }
}
