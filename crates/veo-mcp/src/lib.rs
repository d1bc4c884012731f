//! MCP server for Veo 3.1 transition videos: tools, transports and configuration.
//!
//! - [`config`]: flags and environment → [`config::Config`].
//! - [`server`]: [`server::VeoServer`], the `generate_transition_video` and `get_task_result` tools.
//! - [`journal`]: the SQLite task journal (every submit, status, link and saved file).
//! - [`watcher`]: background polling of submitted tasks and saving of their videos.
//! - [`transport`]: stdio and streamable HTTP.
//! - [`logging`]: stderr-only logs.
//! - [`cli`]: the `generate`, `status` and `tasks` commands, over an in-process MCP connection.
//! - [`demo`]: `veo-mcp demo`, the whole flow against an in-process mock.

pub mod cli;
pub mod config;
pub mod demo;
pub mod journal;
pub mod logging;
pub mod server;
pub mod transport;
pub mod watcher;

pub use config::Config;
pub use server::VeoServer;
