//! The PostgreSQL journal's address, kept away from logs: its password is never shown.

use std::time::Duration;

use super::{CONNECT_TIMEOUT, OPERATION_TIMEOUT};

/// A `postgres://` or `postgresql://` URL. Its `Debug` and `Display` leave the password out.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// A checked URL; the error says what is wrong without repeating the password.
    pub fn parse(value: &str) -> Result<PostgresUrl, String> {
        let url = PostgresUrl(value.to_string());
        value.parse::<tokio_postgres::Config>().map_err(|e| {
            format!("the journal URL {url} is not a valid PostgreSQL connection URL: {e}")
        })?;
        Ok(url)
    }

    /// The URL as given, password included: only for handing to a process that connects
    /// with it, never for showing.
    pub fn connection_string(&self) -> &str {
        &self.0
    }

    pub(super) fn config(&self) -> Result<tokio_postgres::Config, String> {
        let mut config: tokio_postgres::Config = self.0.parse().map_err(|e| format!("{e}"))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("veo");
        }
        // The server ends what the client stopped waiting for: a statement or a lock wait that
        // outlives the operation's bound, and a transaction its client abandoned.
        let bounds = format!(
            "-c statement_timeout={ms} -c lock_timeout={ms} -c idle_in_transaction_session_timeout={ms}",
            ms = OPERATION_TIMEOUT.as_millis()
        );
        let options = match config.get_options() {
            Some(given) if !given.trim().is_empty() => format!("{bounds} {given}"),
            _ => bounds,
        };
        config
            .options(&options)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .tcp_user_timeout(OPERATION_TIMEOUT);
        Ok(config)
    }
}

impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("***"));
                }
                // A password may also come as a query parameter.
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k.eq_ignore_ascii_case("password") {
                            "***".into()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                if !pairs.is_empty() {
                    url.query_pairs_mut().clear().extend_pairs(pairs);
                }
                write!(f, "{url}")
            }
            Err(_) => f.write_str("postgres://(unreadable URL)"),
        }
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

impl PostgresUrl {
    /// The same server, with connections whose `search_path` is `schema`.
    pub(super) fn with_search_path(&self, schema: &str) -> Result<PostgresUrl, String> {
        let mut url = url::Url::parse(&self.0).map_err(|e| e.to_string())?;
        url.query_pairs_mut()
            .append_pair("options", &format!("-csearch_path={schema}"));
        PostgresUrl::parse(url.as_str())
    }
}
