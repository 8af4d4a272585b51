//! Serving a TCP listener with limits a hostile or careless client cannot get around: a cap on
//! open connections, a deadline for a request's headers, and an idle timeout on every
//! connection (no byte read or written for that long closes it). `axum::serve` has none of
//! these (it gives hyper no timer, so not even hyper's header timeout runs), so a few hundred
//! slowloris connections, or a few thousand idle ones, could hold every file descriptor.
//!
//! - HTTP/1 (and HTTP/2, by ALPN-less prior knowledge) through hyper-util's `auto` builder,
//!   with hyper's `header_read_timeout` — which also bounds how long an idle keep-alive
//!   connection waits for its next request.
//! - A connection beyond the cap is answered `503` with `Retry-After` (HTTP) or closed
//!   (gRPC) at once, instead of waiting in the kernel's backlog.
//! - [`limited_incoming`] feeds tonic the same capped, idle-bounded connections.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Per-listener connection limits (`[server]` in the config file).
#[derive(Clone, Debug)]
pub struct ConnLimits {
    /// Most connections open at once on this listener (`server.max_connections`).
    pub max_connections: usize,
    /// A request's headers must arrive within this; it also bounds an idle keep-alive wait
    /// (`server.header_read_timeout_secs`).
    pub header_read_timeout: Duration,
    /// A connection that reads and writes nothing for this long is closed
    /// (`server.idle_timeout_secs`).
    pub idle_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            max_connections: 512,
            header_read_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(120),
        }
    }
}

/// A connection that fails with `TimedOut` once nothing has been read or written for
/// `idle`; holds its listener's connection permit until dropped.
pub struct Limited<T> {
    io: T,
    idle: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl<T> Limited<T> {
    fn new(io: T, idle: Duration, permit: OwnedSemaphorePermit) -> Limited<T> {
        let now = Instant::now();
        Limited {
            io,
            idle,
            last: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle)),
            _permit: permit,
        }
    }

    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// After an IO call: progress moves the deadline; `Pending` arms the timer, and an
    /// expired timer turns the wait into an error.
    fn after<R>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        match poll {
            Poll::Ready(r) => {
                self.last = Instant::now();
                Poll::Ready(r)
            }
            Poll::Pending => {
                let deadline = self.last + self.idle;
                if self.timer.deadline() != deadline {
                    self.timer.as_mut().reset(deadline);
                }
                match self.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "connection idle for longer than server.idle_timeout_secs",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Limited<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_read(cx, buf);
        this.after(cx, poll)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Limited<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.after(cx, poll)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_flush(cx);
        this.after(cx, poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_shutdown(cx);
        this.after(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.after(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl tonic::transport::server::Connected for Limited<TcpStream> {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

/// Accepts the next connection that gets a permit. Connections over the cap are handed to
/// `refuse`; accept errors (a full file table, a reset before accept) are logged and retried
/// after a pause rather than ending the server.
async fn accept(
    listener: &TcpListener,
    permits: &Arc<Semaphore>,
    limits: &ConnLimits,
    name: &'static str,
    refuse: fn(TcpStream),
) -> Limited<TcpStream> {
    static LAST_WARNING: AtomicU64 = AtomicU64::new(0);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(listener = name, error = %e, "accept failed; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let _ = stream.set_nodelay(true);
                return Limited::new(stream, limits.idle_timeout, permit);
            }
            Err(_) => {
                // One warning per 10 s at most: a flood must not become a log flood.
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                if now.saturating_sub(LAST_WARNING.swap(now, Ordering::Relaxed)) >= 10 {
                    tracing::warn!(
                        listener = name,
                        max_connections = limits.max_connections,
                        "connection refused: the listener is at server.max_connections"
                    );
                }
                refuse(stream);
            }
        }
    }
}

/// An HTTP answer for a connection over the cap, written without waiting on the client.
fn refuse_http(mut stream: TcpStream) {
    tokio::spawn(async move {
        const BODY: &str =
            "{\"error\":\"too many connections (server.max_connections); retry shortly\"}";
        let reply = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
            BODY.len()
        );
        let _ =
            tokio::time::timeout(Duration::from_secs(1), stream.write_all(reply.as_bytes())).await;
    });
}

fn refuse_silently(stream: TcpStream) {
    drop(stream);
}

/// Serves `app` on `listener` with `limits` until `shutdown` resolves, then waits for the
/// open connections to finish their requests (the caller bounds that wait).
pub async fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    limits: ConnLimits,
    name: &'static str,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.idle_timeout / 2))
        .keep_alive_timeout(Duration::from_secs(20));
    tokio::pin!(shutdown);
    loop {
        let io = tokio::select! {
            io = accept(&listener, &permits, &limits, name, refuse_http) => io,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let watched = graceful.watch(conn);
        tokio::spawn(async move {
            // A client that goes away mid-request, or an idle timeout, ends here; neither
            // is the server's error.
            if let Err(e) = watched.await {
                tracing::debug!(listener = name, error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// The connections of `listener`, capped and idle-bounded, as tonic's incoming stream.
pub fn limited_incoming(
    listener: TcpListener,
    limits: ConnLimits,
    name: &'static str,
) -> impl Stream<Item = io::Result<Limited<TcpStream>>> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    futures_util::stream::unfold(
        (listener, permits, limits),
        move |(listener, permits, limits)| async move {
            let io = accept(&listener, &permits, &limits, name, refuse_silently).await;
            Some((Ok(io), (listener, permits, limits)))
        },
    )
}
