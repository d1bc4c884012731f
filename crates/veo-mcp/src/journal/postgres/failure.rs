//! What can go wrong talking to PostgreSQL, in words a person can act on.

/// What can go wrong inside one operation.
pub(super) enum Failure {
    Pool(deadpool_postgres::PoolError),
    Database(tokio_postgres::Error),
    Other(String),
}

impl From<deadpool_postgres::PoolError> for Failure {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Failure::Pool(e)
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Database(e)
    }
}

/// A database error's own words (tokio-postgres' `Display` alone says only "db error").
pub(crate) fn message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

impl Failure {
    /// The failure in words, without secrets.
    pub(super) fn text(&self) -> String {
        match self {
            Failure::Pool(deadpool_postgres::PoolError::Backend(e)) => message(e),
            Failure::Pool(deadpool_postgres::PoolError::Timeout(_)) => {
                "no connection to PostgreSQL within 10 s (is it running and reachable?)".into()
            }
            Failure::Pool(e) => e.to_string(),
            Failure::Database(e) => message(e),
            Failure::Other(text) => text.clone(),
        }
    }
}
