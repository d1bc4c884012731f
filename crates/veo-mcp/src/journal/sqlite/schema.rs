//! Opening an SQLite journal: its settings (WAL, busy timeout, cached statements) and its
//! versioned schema (`PRAGMA user_version`, the migrations in `*.sql` beside this file).

use std::time::Duration;

use rusqlite::Connection;

/// Schema migrations, in order: migration `n` (from 1) brings `user_version` from `n - 1` to
/// `n`. Journals made before versioning (version 0, tables present) pass through the first one
/// unchanged, as it only creates what is missing.
pub(super) const MIGRATIONS: [&str; 5] = [
    include_str!("001_initial.sql"),
    include_str!("002_split_detail.sql"),
    include_str!("003_video_seconds.sql"),
    include_str!("004_owner.sql"),
    include_str!("005_leases.sql"),
];

/// [`setup`], tried again for a few seconds when SQLite answers "busy" at once (without waiting
/// out the busy timeout), as it does when several processes switch a new journal to WAL at the
/// same moment.
pub(super) fn setup_retrying(conn: &Connection) -> rusqlite::Result<()> {
    use backon::BlockingRetryable as _;
    let policy = veo_core::RetryPolicy {
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(500),
        ..veo_core::RetryPolicy::default()
    };
    let busy = |e: &rusqlite::Error| {
        matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    };
    (|| setup(conn))
        .retry(policy.backoff(30))
        .sleep(std::thread::sleep)
        .when(busy)
        .call()
}

fn setup(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Applies the migrations the journal has not seen, all in one `IMMEDIATE` transaction that
/// reads the version under the write lock: of several processes opening an old journal at once,
/// one migrates and the others find it done.
pub(super) fn migrate(conn: &Connection) -> Result<(), String> {
    let known = MIGRATIONS.len() as u32;
    let apply = || -> Result<(), String> {
        let version: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| e.to_string())?;
        if version > known {
            return Err(format!(
                "it was written by a newer version of veo (schema {version}; this version knows up to {known}); use that version or another journal (VEO_JOURNAL)"
            ));
        }
        for (n, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let to = n + 1;
            conn.execute_batch(&format!("{sql}; PRAGMA user_version = {to};"))
                .map_err(|e| format!("cannot bring the schema to version {to}: {e}"))?;
        }
        Ok(())
    };
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| format!("cannot lock the journal to check its schema: {e}"))?;
    match apply() {
        Ok(()) => conn
            .execute_batch("COMMIT")
            .map_err(|e| format!("cannot commit the schema: {e}")),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
