//! A local fake of JieKou AI's asynchronous Veo 3.1 first/last-frame API, for tests, demos
//! and benchmarks.
//!
//! It checks submit bodies from raw JSON against the platform's rules (so a client's field-name
//! mistake fails a test), runs each task through queued → processing → succeeded/failed from
//! timestamps, serves real MP4 files behind signed links that expire, and can misbehave on
//! purpose: 500s, proxy 502 pages, 429 with `Retry-After`, dropped connections, slow and
//! malformed replies, and submits whose task is created although the reply is an error.
//!
//! Start it in-process with [`MockServer::start`]; read counters with [`MockServer::stats`]
//! and the tasks held with [`MockServer::tasks`];
//! inject faults with [`MockServer::set_faults`] or `POST /_mock/faults`. Prompt markers such
//! as `[mock:fail=REASON]` steer single tasks (see [`markers`]).
//!
//! Modules follow a request: [`config`] → validate → tasks → [`faults`] → files → [`stats`] →
//! routes → [`server`].

pub mod config;
mod conn;
pub mod faults;
mod files;
pub mod markers;
pub mod model;
mod routes;
pub mod server;
pub mod stats;
mod tasks;
mod validate;

pub use config::{DEFAULT_API_KEY, DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_IMAGE_BYTES, MockConfig};
pub use faults::{Fault, FaultRule, Scope, Trigger};
pub use files::SAMPLE_MP4;
pub use model::Model;
pub use server::MockServer;
pub use stats::{Endpoint, EndpointStats, Outcome, StatsSnapshot};
pub use tasks::TaskSummary;
