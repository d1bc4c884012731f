//! Connecting: the pool, the schema check at start, and the bound on every operation.

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::failure::Failure;
use super::{CONNECT_TIMEOUT, OPERATION_TIMEOUT, POOL_SIZE, PostgresJournal, PostgresUrl, schema};
use crate::journal::JournalError;

impl PostgresJournal {
    /// Connects to the database at `url` and brings its schema up to date. Fails with a clear
    /// error when the database cannot be reached or was written by a newer veo.
    pub async fn open(url: &PostgresUrl) -> Result<PostgresJournal, JournalError> {
        let location = url.to_string();
        let fail = |message: String| JournalError {
            location: location.clone(),
            message,
        };
        let config = url.config().map_err(&fail)?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| fail(format!("cannot set up the connection pool: {e}")))?;
        let journal = PostgresJournal {
            recent: Default::default(),
            pool,
            location: location.clone(),
        };
        let mut client = journal.pool.get().await.map_err(|e| {
            fail(format!(
                "cannot connect to PostgreSQL: {}",
                Failure::Pool(e).text()
            ))
        })?;
        let client: &mut tokio_postgres::Client = &mut client;
        tokio::time::timeout(OPERATION_TIMEOUT, schema::migrate(client))
            .await
            .map_err(|_| fail("the schema check took longer than 30 s".into()))?
            .map_err(fail)?;
        Ok(journal)
    }

    /// Runs `work` within [`OPERATION_TIMEOUT`], naming the journal in its error.
    pub(super) async fn bounded<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> Result<T, JournalError> {
        let outcome = tokio::time::timeout(OPERATION_TIMEOUT, work).await;
        let message = match outcome {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(e)) => e.text(),
            Err(_) => format!(
                "no answer from PostgreSQL within {} s",
                OPERATION_TIMEOUT.as_secs()
            ),
        };
        Err(JournalError {
            location: self.location.clone(),
            message,
        })
    }
}
