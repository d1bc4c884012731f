//! [`MockServer`]: binds, serves on the current tokio runtime, and exposes the state to tests.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::MockConfig;
use crate::conn::{ConnInfo, MockListener};
use crate::faults::FaultRule;
use crate::routes::{self, Shared};
use crate::stats::StatsSnapshot;
use crate::tasks::TaskSummary;

/// A running mock server. Dropping it stops the server (in the background);
/// [`MockServer::shutdown`] stops it and waits.
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use veo_mock::{MockConfig, MockServer};
/// let server = MockServer::start(MockConfig::fast()).await?;
/// let submit_url = format!("{}/v3/async/veo-3.1-generate-firstlastframe", server.base_url());
/// // ... drive a client against it ...
/// assert_eq!(server.stats().tasks_created, 0);
/// server.shutdown().await;
/// # Ok(()) }
/// ```
pub struct MockServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Starts a server on a free port of 127.0.0.1, on the current tokio runtime.
    pub async fn start(config: MockConfig) -> io::Result<MockServer> {
        MockServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts a server on `addr` (port 0 picks a free port), on the current tokio runtime.
    pub async fn bind(addr: SocketAddr, config: MockConfig) -> io::Result<MockServer> {
        let listener = TcpListener::bind(addr).await?;
        MockServer::from_listener(listener, config)
    }

    /// Starts a server on an already bound listener, on the current tokio runtime.
    ///
    /// Fails if the configuration is out of range or no runtime is current.
    pub fn from_listener(listener: TcpListener, config: MockConfig) -> io::Result<MockServer> {
        config
            .check()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| io::Error::other(format!("no tokio runtime: {e}")))?;
        let addr = listener.local_addr()?;
        let base_url = match &config.public_base_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => base_url_of(addr),
        };
        let shared = Arc::new(Shared::new(config, base_url));
        let app = routes::router(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = runtime.spawn(async move {
            let serve = axum::serve(
                MockListener::new(listener),
                app.into_make_service_with_connect_info::<ConnInfo>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("mock server stopped: {e}");
            }
        });
        tracing::debug!(%addr, "mock server listening");
        Ok(MockServer {
            shared,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The base URL clients use, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// `base_url` + `path`, e.g. `server.url("/_mock/stats")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shared.base_url)
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An API key the server accepts.
    pub fn api_key(&self) -> &str {
        self.shared.config.client_key()
    }

    /// The configuration the server started with.
    pub fn config(&self) -> &MockConfig {
        &self.shared.config
    }

    /// A copy of the counters, read in-process.
    pub fn stats(&self) -> StatsSnapshot {
        self.shared.stats.snapshot(self.shared.store.len())
    }

    /// Every task held, oldest first, with its status now (also `GET /_mock/tasks`). This is how
    /// a test finds a task whose submit reply was replaced by a fault.
    pub fn tasks(&self) -> Vec<TaskSummary> {
        self.shared.task_summaries()
    }

    /// Replaces every active fault rule.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        self.shared.faults.set(rules, None);
    }

    /// Adds one fault rule after the active ones.
    pub fn add_fault(&self, rule: FaultRule) {
        self.shared.faults.add(vec![rule]);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.faults.set(Vec::new(), None);
    }

    /// The active fault rules (`Next` counts show what is left).
    pub fn faults(&self) -> Vec<FaultRule> {
        self.shared.faults.rules()
    }

    /// Back to the state at startup: no tasks, zero counters, the configured faults, and every
    /// random generator restarted from the seed.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops accepting, lets in-flight requests finish (up to 2 s), then returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }

    /// Serves until the server task ends (it ends only after a shutdown signal was sent from
    /// elsewhere, so this is mostly for binaries that pair it with [`MockServer::stopper`]).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Takes the sender that stops the server, for stopping it from another task.
    pub fn stopper(&mut self) -> Option<oneshot::Sender<()>> {
        self.stop.take()
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("base_url", &self.shared.base_url)
            .finish_non_exhaustive()
    }
}

/// `http://ip:port`, with a wildcard address replaced by loopback.
fn base_url_of(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}
