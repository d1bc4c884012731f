//! Opening a PostgreSQL journal: its versioned schema (a one-row `veo_schema` table, the
//! migrations in `*.sql` beside this file), brought up to date under an advisory lock so that
//! replicas starting together migrate once.

use tokio_postgres::Client;

/// Schema migrations, in order: migration `n` (from 1) brings the version from `n - 1` to `n`.
const MIGRATIONS: [&str; 1] = [include_str!("001_initial.sql")];

/// The advisory lock key under which the schema is checked and migrated ("veo-schema").
const SCHEMA_LOCK: i64 = 0x7665_6f2d_7363_6865;

/// Applies the migrations the database has not seen, in one transaction holding
/// [`SCHEMA_LOCK`]; a schema newer than this version knows is refused.
pub(super) async fn migrate(client: &mut Client) -> Result<(), String> {
    let known = MIGRATIONS.len() as i32;
    let tx = client
        .transaction()
        .await
        .map_err(|e| format!("cannot start the schema check: {}", super::message(&e)))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await
        .map_err(|e| format!("cannot lock the schema: {}", super::message(&e)))?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS veo_schema (version INTEGER NOT NULL)")
        .await
        .map_err(|e| format!("cannot create the schema table: {}", super::message(&e)))?;
    let version: i32 = tx
        .query_opt("SELECT version FROM veo_schema", &[])
        .await
        .map_err(|e| format!("cannot read the schema version: {}", super::message(&e)))?
        .map_or(0, |row| row.get(0));
    if version > known {
        return Err(format!(
            "it was written by a newer version of veo (schema {version}; this version knows up to {known}); use that version or another database"
        ));
    }
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let to = n as i32 + 1;
        tx.batch_execute(sql).await.map_err(|e| {
            format!(
                "cannot bring the schema to version {to}: {}",
                super::message(&e)
            )
        })?;
    }
    if version < known {
        tx.execute("DELETE FROM veo_schema", &[])
            .await
            .and(
                tx.execute("INSERT INTO veo_schema (version) VALUES ($1)", &[&known])
                    .await,
            )
            .map_err(|e| format!("cannot record the schema version: {}", super::message(&e)))?;
    }
    tx.commit()
        .await
        .map_err(|e| format!("cannot commit the schema: {}", super::message(&e)))
}
