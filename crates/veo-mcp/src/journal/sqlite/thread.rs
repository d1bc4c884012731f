//! The journal's thread: the one owner of the SQLite connection. It runs the operations sent to
//! it in groups: whatever is queued when it is free is taken together, the reads run first,
//! each on its own, then all the writes in one transaction (group commit), each write inside
//! its own savepoint so that a failing one leaves no trace and the others stand (a write alone
//! in its group needs none: if it fails, the transaction is rolled back). A write is answered
//! only once its group is committed. The statements that open and close transactions and
//! savepoints are prepared once and kept, not parsed again for every group.
//!
//! Under load this turns one commit (one WAL append of every page touched) per write into one
//! per group: the submits of 64 concurrent callers become a few transactions, not 64 × 2.

use std::sync::mpsc::{Receiver, Sender};

use rusqlite::Connection;

use super::checkpoint::Checkpoints;

/// Most operations taken into one group: bounds how long the first of them waits for the rest.
const MAX_GROUP: usize = 64;

/// One operation for the journal's thread (see [`Operation`]).
pub(super) trait Job: Send {
    /// Whether it writes (then it runs in the group's transaction).
    fn writes(&self) -> bool;
    /// Runs it on `conn`; returns whether it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Sends its outcome to its caller; `group` is the error that undid the group's
    /// transaction, if any (then a write that succeeded is answered with that error).
    fn answer(self: Box<Self>, group: Result<(), &rusqlite::Error>);
}

/// An operation `work` whose outcome goes back to the caller through `reply`, as the value or
/// the error's message.
pub(super) struct Operation<T, F> {
    writes: bool,
    work: Option<F>,
    outcome: Option<rusqlite::Result<T>>,
    reply: tokio::sync::oneshot::Sender<Result<T, String>>,
}

impl<T, F> Operation<T, F> {
    /// A read (`writes: false`) or a write, answered through `reply`.
    pub(super) fn new(
        writes: bool,
        work: F,
        reply: tokio::sync::oneshot::Sender<Result<T, String>>,
    ) -> Operation<T, F> {
        Operation {
            writes,
            work: Some(work),
            outcome: None,
            reply,
        }
    }
}

impl<T, F> Job for Operation<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send,
{
    fn writes(&self) -> bool {
        self.writes
    }

    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let outcome = work(conn);
        let succeeded = outcome.is_ok();
        self.outcome = Some(outcome);
        succeeded
    }

    fn answer(self: Box<Self>, group: Result<(), &rusqlite::Error>) {
        let reply = match (self.outcome, group) {
            (Some(Err(e)), _) => Err(e.to_string()),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (_, Err(e)) => Err(e.to_string()),
            (None, Ok(())) => Err("the journal operation did not run".into()),
        };
        let _ = self.reply.send(reply);
    }
}

/// What callers hold to send operations to the thread.
pub(super) type Jobs = Sender<Box<dyn Job>>;

/// Starts the journal's thread, the owner of `conn` (and of its `checkpoints`, for a file):
/// it runs the operations sent through the returned sender, and ends when every sender is gone.
pub(super) fn start(conn: Connection, checkpoints: Option<Checkpoints>) -> std::io::Result<Jobs> {
    let (jobs, queue) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("veo-journal".into())
        .spawn(move || serve(conn, queue, checkpoints))?;
    Ok(jobs)
}

/// Runs the operations from `queue` on `conn` until every sender is gone.
fn serve(conn: Connection, queue: Receiver<Box<dyn Job>>, mut checkpoints: Option<Checkpoints>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        // Operations queued at the same moment come from callers that did not wait for each
        // other, so running the reads first changes nothing any of them could rely on.
        let (writes, reads): (Vec<_>, Vec<_>) = group.into_iter().partition(|job| job.writes());
        for mut read in reads {
            read.run(&conn);
            read.answer(Ok(()));
        }
        if !writes.is_empty() {
            run_writes(&conn, writes);
            if let Some(checkpoints) = &mut checkpoints {
                checkpoints.after_writes(&conn);
            }
        }
    }
}

/// Runs `writes` in one transaction, each in its own savepoint unless it is alone, commits,
/// then answers them.
fn run_writes(conn: &Connection, mut writes: Vec<Box<dyn Job>>) {
    let committed = in_transaction(conn, |conn| {
        if let [lone] = writes.as_mut_slice() {
            return Ok(lone.run(conn));
        }
        for job in &mut writes {
            run_cached(conn, "SAVEPOINT write")?;
            if !job.run(conn) {
                // A failed write leaves no trace; the others in the group stand.
                run_cached(conn, "ROLLBACK TO write")?;
            }
            run_cached(conn, "RELEASE write")?;
        }
        Ok(true)
    });
    for job in writes {
        job.answer(committed.as_ref().map(|_| ()));
    }
}

/// Runs `work` in a transaction that takes the write lock at once (`IMMEDIATE`: waiting out the
/// busy timeout if another process holds it, so that no read inside turns into a write that
/// fails). It is committed when `work` returns `Ok(true)`, rolled back otherwise; an error, from
/// `work` or the commit, is returned with the transaction closed.
fn in_transaction(
    conn: &Connection,
    work: impl FnOnce(&Connection) -> rusqlite::Result<bool>,
) -> rusqlite::Result<()> {
    run_cached(conn, "BEGIN IMMEDIATE")?;
    let ended = match work(conn) {
        Ok(true) => run_cached(conn, "COMMIT"),
        Ok(false) => run_cached(conn, "ROLLBACK"),
        Err(e) => Err(e),
    };
    if ended.is_err() && !conn.is_autocommit() {
        // A failed statement or commit can leave the transaction open.
        let _ = run_cached(conn, "ROLLBACK");
    }
    ended
}

/// Runs a statement that takes no parameters and returns no rows, prepared once per connection.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Reply = tokio::sync::oneshot::Receiver<Result<(), String>>;

    fn insert(value: &'static str, fail_after: bool) -> (Box<dyn Job>, Reply) {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let work = move |c: &Connection| {
            c.execute("INSERT INTO t (v) VALUES (?1)", [value])?;
            if fail_after {
                c.execute("INSERT INTO missing_table VALUES (1)", [])?;
            }
            Ok(())
        };
        (Box::new(Operation::new(true, work, reply)), answer)
    }

    /// A connection in memory with the table `t` that [`insert`] writes to.
    fn table() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v TEXT UNIQUE)")
            .unwrap();
        conn
    }

    fn rows(conn: &Connection) -> Vec<String> {
        conn.prepare("SELECT v FROM t ORDER BY v")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_failing_write_leaves_no_trace_and_the_rest_of_its_group_stands() {
        let conn = table();
        let (a, a_answer) = insert("a", false);
        let (b, b_answer) = insert("b", true);
        let (c, c_answer) = insert("c", false);
        run_writes(&conn, vec![a, b, c]);
        assert_eq!(rows(&conn), ["a", "c"]);
        assert_eq!(a_answer.blocking_recv().unwrap(), Ok(()));
        let b_error = b_answer.blocking_recv().unwrap().unwrap_err();
        assert!(b_error.contains("missing_table"), "{b_error}");
        assert_eq!(c_answer.blocking_recv().unwrap(), Ok(()));
        assert!(conn.is_autocommit(), "the group's transaction is closed");
    }

    #[test]
    fn a_lone_failing_write_leaves_no_trace_and_closes_its_transaction() {
        let conn = table();
        // Its first insert succeeds before it fails: the rollback must undo it.
        let (b, b_answer) = insert("b", true);
        run_writes(&conn, vec![b]);
        assert!(rows(&conn).is_empty(), "{:?}", rows(&conn));
        let b_error = b_answer.blocking_recv().unwrap().unwrap_err();
        assert!(b_error.contains("missing_table"), "{b_error}");
        assert!(conn.is_autocommit(), "the transaction is closed");
        let (a, a_answer) = insert("a", false);
        run_writes(&conn, vec![a]);
        assert_eq!(a_answer.blocking_recv().unwrap(), Ok(()));
        assert_eq!(rows(&conn), ["a"]);
    }

    #[test]
    fn a_group_that_cannot_commit_answers_every_write_with_the_error() {
        let conn = table();
        // A transaction left open makes the group's BEGIN fail.
        conn.execute_batch("BEGIN").unwrap();
        let (a, a_answer) = insert("a", false);
        run_writes(&conn, vec![a]);
        let error = a_answer.blocking_recv().unwrap().unwrap_err();
        assert!(error.contains("transaction"), "{error}");
    }

    #[test]
    fn the_thread_answers_reads_and_writes_sent_together() {
        let conn = table();
        let (jobs, queue) = std::sync::mpsc::channel::<Box<dyn Job>>();
        let mut answers = Vec::new();
        for n in 0..100 {
            let value: &'static str = Box::leak(format!("{n:03}").into_boxed_str());
            let (job, answer) = insert(value, false);
            jobs.send(job).unwrap();
            answers.push(answer);
        }
        let (reply, counted) = tokio::sync::oneshot::channel();
        let count = |c: &Connection| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0));
        jobs.send(Box::new(Operation::new(false, count, reply)))
            .unwrap();
        drop(jobs);
        serve(conn, queue, None);
        for answer in answers {
            assert_eq!(answer.blocking_recv().unwrap(), Ok(()));
        }
        // The read was queued with the last group of writes: it ran before them, so it saw
        // the earlier groups only, never part of its own.
        let seen: i64 = counted.blocking_recv().unwrap().unwrap();
        assert_eq!(seen, 64);
    }
}
