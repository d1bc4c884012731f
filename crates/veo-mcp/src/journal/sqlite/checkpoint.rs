//! Checkpoints of a journal file, mostly off the journal's thread.
//!
//! In WAL mode every commit appends the pages it changed to the write-ahead log, and a
//! checkpoint copies them back into the database file and syncs both files. SQLite's automatic
//! checkpoint runs inside the commit that takes the log past 1000 pages: on the journal's one
//! thread, with every write queued behind it waiting (a few milliseconds, most of it `fsync`).
//!
//! Here a second connection on a thread of its own (the checkpointer) does that work instead:
//! it is woken every [`WAKE_EVERY`] pages and copies what is in the log then, in `PASSIVE` mode,
//! which never blocks the writer nor waits for it. The log only starts again from its beginning
//! when a write begins with all of it copied, which a writer that never pauses does not give
//! the checkpointer the chance to see; so once the log passes [`RESTART_AT`] pages, the journal's
//! thread checkpoints between two groups of writes, with the checkpointer's work already done:
//! it copies the few pages written since and the next write starts the log again. The log
//! stays bounded. That checkpoint still syncs both files (the checkpointer's copies are synced
//! only by a pass that reaches the log's end, which a busy writer rarely lets it), 1 – 2 ms
//! each, but once every 4000 pages instead of every 1000.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};

use rusqlite::Connection;

/// Pages appended to the log between two wakings of the checkpointer.
const WAKE_EVERY: i32 = 500;
/// Pages in the log past which the journal's thread checkpoints itself, so that the log starts
/// again (see the module's notes); well above [`WAKE_EVERY`], so that the checkpointer has
/// copied almost all of them by then.
const RESTART_AT: i32 = 4000;

/// The journal thread's side: what the log holds, and the checkpointer to wake.
pub(super) struct Checkpoints {
    /// Pages in the log after the last commit, as SQLite's WAL hook reports them.
    log_pages: Arc<AtomicI32>,
    /// The log's size when the checkpointer was last woken.
    woken_at: i32,
    wake: SyncSender<()>,
    /// Whether the journal thread's last checkpoint failed (see [`checkpoint`]).
    failing: bool,
}

impl Checkpoints {
    /// Takes over the checkpoints of `writer`, the journal's connection to its file (in WAL
    /// mode): SQLite's automatic checkpoint is replaced, and the checkpointer's thread is
    /// started with a connection of its own. It stops when the returned value is dropped.
    /// `None` for a journal in memory, which has no log, or a file whose name is not UTF-8,
    /// which keeps SQLite's automatic checkpoint.
    pub(super) fn start(writer: &mut Connection) -> Result<Option<Checkpoints>, String> {
        let Some(path) = writer.path().filter(|path| !path.is_empty()) else {
            return Ok(None);
        };
        let checkpointer = Connection::open(path)
            .map_err(|e| format!("cannot open the checkpointer's connection: {e}"))?;
        let (wake, woken) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("veo-journal-checkpoint".into())
            .spawn(move || copy_when_woken(&checkpointer, &woken))
            .map_err(|e| format!("cannot start the checkpointer's thread: {e}"))?;
        Checkpoints::hooked(writer, wake)
            .map(Some)
            .map_err(|e| format!("cannot take over the journal's checkpoints: {e}"))
    }

    /// Replaces `writer`'s automatic checkpoint with the count of the log's pages, and wakes
    /// the checkpointer through `wake`. Failing (out of memory), `writer` is left with no
    /// checkpoint at all, so the journal must not be used.
    fn hooked(writer: &mut Connection, wake: SyncSender<()>) -> rusqlite::Result<Checkpoints> {
        let log_pages = Arc::new(AtomicI32::new(0));
        let counted = Arc::clone(&log_pages);
        writer.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages| {
            counted.store(pages, Ordering::Relaxed);
            Ok(())
        }))?;
        Ok(Checkpoints {
            log_pages,
            woken_at: 0,
            wake,
            failing: false,
        })
    }

    /// Called on the journal's thread after a group of writes is committed and answered: wakes
    /// the checkpointer, or checkpoints `writer` itself when the log must start again.
    pub(super) fn after_writes(&mut self, writer: &Connection) {
        let pages = self.log_pages.load(Ordering::Relaxed);
        if pages < self.woken_at {
            // The log started again.
            self.woken_at = 0;
        }
        if pages >= self.woken_at + WAKE_EVERY {
            self.woken_at = pages;
            match self.wake.try_send(()) {
                // Full: it is woken already and copies these pages too.
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => {
                    tracing::warn!("the journal's checkpointer has stopped");
                }
            }
        }
        if pages >= RESTART_AT {
            checkpoint(writer, &mut self.failing);
        }
    }
}

/// The checkpointer's loop: a `PASSIVE` checkpoint each time it is woken, until the journal's
/// thread is gone.
fn copy_when_woken(checkpointer: &Connection, woken: &Receiver<()>) {
    let mut failing = false;
    while woken.recv().is_ok() {
        checkpoint(checkpointer, &mut failing);
    }
}

/// Copies into the database what the log holds and no reader still needs, without waiting for
/// anyone. Busy (another connection is checkpointing) is not an error: that one copies it. A
/// failure is logged once, while `failing` (the last attempt's outcome) is false.
fn checkpoint(conn: &Connection, failing: &mut bool) {
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        Ok(()) => *failing = false,
        Err(e) if !*failing => {
            *failing = true;
            tracing::warn!("cannot checkpoint the journal (tried again later): {e}");
        }
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A file with the journal's settings (WAL) and one table.
    fn wal_file(dir: &Path) -> (std::path::PathBuf, Connection) {
        let path = dir.join("j.sqlite3");
        let conn = Connection::open(&path).unwrap();
        super::super::schema::setup_retrying(&conn).unwrap();
        conn.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        (path, conn)
    }

    /// Commits `n` rows of one page each, one transaction each, calling `after_writes`.
    fn write_pages(conn: &Connection, checkpoints: &mut Checkpoints, n: usize) {
        for _ in 0..n {
            conn.execute("INSERT INTO t (v) VALUES (zeroblob(3000))", [])
                .unwrap();
            checkpoints.after_writes(conn);
        }
    }

    fn wal_bytes(path: &Path) -> u64 {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
    }

    #[test]
    fn the_checkpointer_copies_the_log_into_the_database_without_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut writer) = wal_file(dir.path());
        let mut checkpoints = Checkpoints::start(&mut writer).unwrap().unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        // Enough to wake the checkpointer, not enough for the writer to checkpoint itself.
        write_pages(&writer, &mut checkpoints, WAKE_EVERY as usize);
        assert!(checkpoints.log_pages.load(Ordering::Relaxed) < RESTART_AT);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::fs::metadata(&path).unwrap().len() <= before + 100 * 4096 {
            assert!(
                std::time::Instant::now() < deadline,
                "nothing was copied into the database file"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn with_the_checkpointer_busy_the_writer_starts_the_log_again_past_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut writer) = wal_file(dir.path());
        // A checkpointer that is never free: nothing is copied unless the writer does it.
        let (wake, _never_read) = std::sync::mpsc::sync_channel(1);
        let mut checkpoints = Checkpoints::hooked(&mut writer, wake).unwrap();
        // Each row takes a page of the table, and its commit the pages above it again.
        write_pages(&writer, &mut checkpoints, 3 * RESTART_AT as usize);
        let bound = (RESTART_AT as u64 + 200) * (4096 + 24);
        assert!(
            wal_bytes(&path) <= bound,
            "the log grew to {} bytes (bound {bound})",
            wal_bytes(&path)
        );
        let rows: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3 * i64::from(RESTART_AT));
    }

    #[test]
    fn a_journal_in_memory_has_no_checkpointer() {
        let mut memory = Connection::open_in_memory().unwrap();
        assert!(Checkpoints::start(&mut memory).unwrap().is_none());
    }
}
