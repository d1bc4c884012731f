//! Typed model and async client for JieKou AI's Veo 3.1 first/last-frame video generation.
//!
//! One request flows through the modules in this order:
//!
//! 1. [`request`]: what the caller asks for ([`TransitionRequest`], [`Model`] and the other
//!    closed sets, each a [`ClosedSet`]).
//! 2. [`validate`]: every rule checked, all problems reported at once; [`validate::prepare`] also
//!    loads the frames through [`image`] and yields a [`PreparedRequest`].
//! 3. [`body`]: the exact JSON body of the model's endpoint, streamed.
//! 4. [`client`]: submit, query, wait; the only code that talks to the platform. [`poll`] is
//!    the one polling loop (its `wait` and background followers use it).
//! 5. [`result`]: the platform's answer, read tolerantly into a [`TaskResult`].
//! 6. [`download`]: a result video saved to disk, atomically and checked.
//!
//! [`error`] holds the one error type, [`config`] the client settings, [`schema`] the
//! host-friendly JSON Schemas. With the `sample` feature, `sample` makes frames for demos and
//! tests.
//!
//! ```no_run
//! # async fn run() -> Result<(), veo_core::Error> {
//! use veo_core::{Client, ClientConfig, ImagePolicy, TransitionRequest, WaitOptions, prepare};
//!
//! let client = Client::new(ClientConfig::from_env()?);
//! let request = TransitionRequest::new("~/first.png", "~/last.png", "the camera pushes in");
//! let prepared = prepare(request, &ImagePolicy::default()).await?;
//! let task_id = client.submit(&prepared).await?;
//! let result = client.wait(&task_id, &WaitOptions::default(), |r| eprintln!("{:?}", r.status)).await?;
//! for video in &result.videos {
//!     println!("{}", video.url);
//! }
//! # Ok(())
//! # }
//! ```

pub mod body;
pub mod client;
pub mod config;
pub mod download;
pub mod error;
pub mod image;
pub mod poll;
pub mod request;
pub mod result;
#[cfg(feature = "sample")]
pub mod sample;
pub mod schema;
pub mod validate;

pub use client::{Client, WaitOptions};
pub use config::{ApiKey, ClientConfig, RetryPolicy};
pub use error::{Error, InvalidInput, Problem, Result};
pub use image::{ImageFormat, ImagePolicy};
pub use request::{
    AspectRatio, ClosedSet, DurationSeconds, EffectiveParameters, Model, PersonGeneration,
    Resolution, TransitionRequest,
};
pub use result::{MediaFile, TaskResult, TaskStatus, UnreadableReply};
pub use tokio_util::sync::CancellationToken;
pub use validate::{PreparedRequest, parse_request, parse_request_from, prepare, prepare_json};
