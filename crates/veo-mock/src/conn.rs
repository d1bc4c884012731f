//! Connections a handler can cut: how "connection reset" faults close a TCP connection
//! without any HTTP response.
//!
//! Every accepted stream carries a [`KillSwitch`]; the handler reaches it through
//! [`ConnInfo`] (axum's `ConnectInfo`). Once tripped, the stream refuses all further I/O and
//! sets a zero linger, so the HTTP layer drops the connection and the kernel sends a RST
//! instead of the response.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Trips once; the connection then fails all I/O.
#[derive(Debug, Default)]
pub(crate) struct KillSwitch(AtomicBool);

impl KillSwitch {
    pub(crate) fn trip(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn tripped(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A TCP stream with a kill switch.
pub(crate) struct MockStream {
    inner: TcpStream,
    kill: Arc<KillSwitch>,
}

impl MockStream {
    fn check(&self) -> Result<(), io::Error> {
        if self.kill.tripped() {
            // Best effort: make the close a RST rather than a FIN.
            let _ = self.inner.set_zero_linger();
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection reset by fault injection",
            ));
        }
        Ok(())
    }
}

impl AsyncRead for MockStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for MockStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check()?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// A TCP listener whose streams carry kill switches.
pub(crate) struct MockListener {
    inner: TcpListener,
}

impl MockListener {
    pub(crate) fn new(inner: TcpListener) -> MockListener {
        MockListener { inner }
    }
}

impl Listener for MockListener {
    type Io = MockStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let io = MockStream {
                        inner: stream,
                        kill: Arc::default(),
                    };
                    return (io, addr);
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    if !matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
                    ) {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Per-connection data handed to handlers: the peer and the kill switch.
#[derive(Clone, Debug)]
pub(crate) struct ConnInfo {
    kill: Arc<KillSwitch>,
}

impl ConnInfo {
    /// Closes this connection without a response (the handler's response is discarded).
    pub(crate) fn reset(&self) {
        self.kill.trip();
    }
}

impl Connected<IncomingStream<'_, MockListener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, MockListener>) -> Self {
        ConnInfo {
            kill: Arc::clone(&stream.io().kill),
        }
    }
}
