//! A request body that fails when it goes longer than a bound without a byte arriving.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::Frame;
use tokio::time::Sleep;

/// The error of a body that stalled.
#[derive(Debug, thiserror::Error)]
#[error("the request body sent nothing for {0:?}")]
pub struct BodyStalled(Duration);

/// A body that ends with [`BodyStalled`] once it has been waited on for `idle` without a
/// frame arriving. The timer is armed only while the body is actually waited on: a body
/// already received (the usual small JSON-RPC request) is read without touching the runtime's
/// timer, where arming one for every read costs a lock and can wake a parked worker thread.
pub struct IdleTimeoutBody {
    inner: Body,
    idle: Duration,
    waiting: Option<Pin<Box<Sleep>>>,
}

impl IdleTimeoutBody {
    /// `inner`, failing after `idle` without a frame.
    pub fn new(inner: Body, idle: Duration) -> Self {
        IdleTimeoutBody {
            inner,
            idle,
            waiting: None,
        }
    }
}

impl http_body::Body for IdleTimeoutBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.waiting = None;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let idle = this.idle;
        let waiting = this
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        match waiting.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyStalled(idle).into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt as _;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_fails_after_the_bound() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let inner = Body::from_stream(tokio_stream_from(rx));
        tx.send(Ok(Bytes::from_static(b"first"))).await.unwrap();
        let body = Body::new(IdleTimeoutBody::new(inner, Duration::from_secs(30)));
        let mut frames = body.into_data_stream();
        assert_eq!(frames.next().await.unwrap().unwrap(), "first");
        let started = tokio::time::Instant::now();
        let error = frames.next().await.unwrap().unwrap_err();
        assert!(
            error.to_string().contains("sent nothing for 30s"),
            "{error}"
        );
        assert_eq!(started.elapsed(), Duration::from_secs(30));
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_within_the_bound_is_read_whole() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let inner = Body::from_stream(tokio_stream_from(rx));
        let sender = tokio::spawn(async move {
            for part in ["a", "b", "c"] {
                tokio::time::sleep(Duration::from_secs(20)).await;
                tx.send(Ok(Bytes::from(part))).await.unwrap();
            }
        });
        let body = Body::new(IdleTimeoutBody::new(inner, Duration::from_secs(30)));
        let whole = axum::body::to_bytes(body, 1024).await.unwrap();
        assert_eq!(whole, "abc");
        sender.await.unwrap();
    }

    #[tokio::test]
    async fn a_received_body_arms_no_timer() {
        let body = IdleTimeoutBody::new(Body::from("{}"), Duration::from_secs(30));
        let mut body = std::pin::pin!(body);
        let frame = std::future::poll_fn(|cx| http_body::Body::poll_frame(body.as_mut(), cx))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(frame.into_data().unwrap(), "{}");
        assert!(body.waiting.is_none());
    }

    fn tokio_stream_from<T: Send + 'static>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Send + 'static {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
