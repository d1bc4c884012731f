//! Scratch schemas on a shared server, for tests and benchmarks.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio_postgres::NoTls;

use super::{CONNECT_TIMEOUT, PostgresUrl, message};

/// Creates a new, empty schema named `<prefix>_<time>_<random>` on the server at `url`, and
/// returns a URL whose connections use it: for tests and benchmarks that need a journal of their
/// own on a shared server. Scratch schemas with this prefix older than a day are dropped first.
pub async fn scratch_schema(url: &PostgresUrl, prefix: &str) -> Result<PostgresUrl, String> {
    let config = url.config()?;
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(NoTls))
        .await
        .map_err(|_| format!("no connection to {url} within 10 s"))?
        .map_err(|e| format!("cannot connect to {url}: {}", message(&e)))?;
    tokio::spawn(connection);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let random = {
        use std::hash::{BuildHasher as _, Hasher as _};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    let name = format!("{prefix}_{now}_{random:016x}");
    let old = client
        .query(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 || '\\_%'",
            &[&prefix],
        )
        .await
        .map_err(|e| message(&e))?;
    for row in old {
        let schema: String = row.get(0);
        let made = schema[prefix.len() + 1..]
            .split('_')
            .next()
            .and_then(|t| t.parse::<u64>().ok());
        if made.is_some_and(|t| t + 86_400 < now) {
            let _ = client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await;
        }
    }
    client
        .batch_execute(&format!("CREATE SCHEMA \"{name}\""))
        .await
        .map_err(|e| message(&e))?;
    url.with_search_path(&name)
}
