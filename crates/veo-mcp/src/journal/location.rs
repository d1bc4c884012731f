//! Where the journal lives, as the `--journal` (`VEO_JOURNAL`) value names it. The one place
//! that tells a PostgreSQL address from an SQLite file name, in every build: without the
//! `postgres` feature such an address is refused, never taken for a file name.

use std::path::PathBuf;

/// Where the journal lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JournalLocation {
    /// An SQLite file (created with its directory if missing).
    File(PathBuf),
    /// In memory only: nothing survives the process.
    Memory,
    /// A PostgreSQL database, shared by every replica that names it.
    #[cfg(feature = "postgres")]
    Postgres(super::postgres::PostgresUrl),
}

/// What a build without the `postgres` feature says of a PostgreSQL address.
const WITHOUT_POSTGRES: &str = "but this build of veo-mcp has no PostgreSQL journal: give an SQLite file path or `:memory:`, or build veo-mcp with the `postgres` feature (on by default; e.g. `cargo build --release -p veo-mcp --no-default-features --features postgres`)";

impl JournalLocation {
    /// The location a `--journal` value names: a `postgres://` or `postgresql://` URL,
    /// `:memory:`, or else an SQLite file path. PostgreSQL connection settings in key=value
    /// form are refused, and so is a URL in a build without the `postgres` feature; no error
    /// repeats the value (it may hold a password).
    pub fn parse(value: &str) -> Result<JournalLocation, String> {
        if is_postgres_url(value) {
            #[cfg(feature = "postgres")]
            return super::postgres::PostgresUrl::parse(value).map(JournalLocation::Postgres);
            #[cfg(not(feature = "postgres"))]
            return Err(format!(
                "the journal is a PostgreSQL URL, {WITHOUT_POSTGRES}"
            ));
        }
        if is_key_value(value) {
            return Err(if cfg!(feature = "postgres") {
                "the journal looks like PostgreSQL connection settings (key=value); give a postgres:// URL instead, e.g. postgres://user:password@host:5432/database".into()
            } else {
                format!(
                    "the journal looks like PostgreSQL connection settings (key=value), {WITHOUT_POSTGRES}"
                )
            });
        }
        Ok(match value {
            ":memory:" => JournalLocation::Memory,
            path => JournalLocation::File(PathBuf::from(path)),
        })
    }
}

/// Shown without a database password.
impl std::fmt::Display for JournalLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JournalLocation::File(path) => write!(f, "{}", path.display()),
            JournalLocation::Memory => f.write_str(":memory:"),
            #[cfg(feature = "postgres")]
            JournalLocation::Postgres(url) => write!(f, "{url}"),
        }
    }
}

/// Whether `value` is meant as a PostgreSQL URL.
fn is_postgres_url(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// Whether `value` looks like a key/value connection string (`host=… password=…`), which veo
/// does not take: it must not be mistaken for a file name (and shown).
fn is_key_value(value: &str) -> bool {
    value.split_whitespace().any(|part| {
        part.split_once('=').is_some_and(|(key, _)| {
            matches!(
                key.to_ascii_lowercase().as_str(),
                "host" | "hostaddr" | "port" | "user" | "password" | "dbname" | "sslmode"
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_memory_are_sqlite() {
        assert_eq!(
            JournalLocation::parse("/tmp/j.sqlite3").unwrap(),
            JournalLocation::File("/tmp/j.sqlite3".into())
        );
        assert_eq!(
            JournalLocation::parse(":memory:").unwrap(),
            JournalLocation::Memory
        );
    }

    #[test]
    fn key_value_settings_are_refused_without_their_password() {
        let error = JournalLocation::parse("host=db user=veo password=s3cret-pw").unwrap_err();
        assert!(error.contains("key=value"), "{error}");
        assert!(!error.contains("s3cret-pw"), "{error}");
    }

    #[cfg(not(feature = "postgres"))]
    #[test]
    fn a_postgres_url_is_refused_by_a_build_without_postgres() {
        for url in [
            "postgres://veo:s3cret-pw@db.internal:5432/veo",
            "POSTGRESQL://veo@db.internal/veo?password=s3cret-pw",
            "host=db.internal user=veo password=s3cret-pw",
        ] {
            let error = JournalLocation::parse(url).unwrap_err();
            for needed in [
                "no PostgreSQL journal",
                "--features postgres",
                ":memory:",
                "SQLite",
            ] {
                assert!(error.contains(needed), "{needed} in {error}");
            }
            assert!(!error.contains("s3cret-pw"), "{error}");
            assert!(!error.contains("db.internal"), "{error}");
        }
    }
}
