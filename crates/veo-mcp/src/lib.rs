//! veo-mcp: makes Veo 3.1 transition videos for MCP hosts and for people at a terminal.
//!
//! Modules follow one request's flow:
//! - [`config`]: the settings ([`Config`], built with `Default` and `with_*`).
//! - [`mcp`]: the MCP server ([`VeoServer`]), three tools that adapt JSON arguments to the app;
//!   [`cli`]: the `generate`, `status` and `tasks` commands, adapting clap arguments to it.
//! - [`app`]: what veo does, whoever asks ([`App`]): submit once, wait and save, list.
//! - [`journal`]: every submit and what became of it (SQLite); [`process`]: who wrote an entry.
//! - [`spend`]: spend limits, prices and confirmation before expensive calls.
//! - [`watcher`]: following submitted tasks in the background; [`saver`]: saving their videos.
//! - [`transport`]: stdio and streamable HTTP; [`http_videos`]: saved videos there by the signed
//!   links of [`links`]; [`logging`]: stderr-only logs.
//! - `demo` (feature `demo`): `veo-mcp demo`, the whole MCP exchange against an in-process mock.

pub mod app;
pub mod cli;
pub mod config;
#[cfg(feature = "demo")]
pub mod demo;
pub mod http_videos;
pub mod journal;
pub mod links;
pub mod logging;
pub mod mcp;
pub mod process;
pub mod saver;
pub mod spend;
pub mod transport;
pub mod video_name;
pub mod watcher;

pub use app::{App, AppError};
pub use config::Config;
pub use mcp::VeoServer;
