//! The HTTP server's accept loop: HTTP/1.1 over hyper, with what `axum::serve` lacks so that
//! idle or slow clients cannot make the API unreachable:
//!
//! - a **header timeout**: a request's head (request line and headers) must arrive complete
//!   within `header_read_timeout` of the server starting to wait for it, that is of the
//!   connection being accepted or of the previous response ending on a kept-alive connection;
//!   a client that sends nothing, or half a header, is closed then;
//! - an **idle timeout**: a connection on which no byte moves either way for `idle_timeout`
//!   while no handler is working on one of its requests (a response the client stopped
//!   reading, an event stream whose client is gone) is closed;
//! - a **body timeout**: a request body that stops arriving (no byte for `idle_timeout` while
//!   a handler waits for it) ends in an error, which the handler answers as a 400 problem, so
//!   a client that announces a body and sends half of it cannot hold a handler forever;
//! - a **connection limit**: at most `max_connections` are served at once; one more is
//!   accepted and closed at once (counted in `switchboard_http_connections_refused_total`),
//!   so the kernel's backlog never fills with clients nobody will serve, and the timeouts above
//!   free the places a flood holds.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::metrics::Metrics;

/// How long the server waits on clients, and how many it serves at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request's head must arrive within this (default 10 s).
    pub header_read_timeout: Duration,
    /// A connection on which nothing is read or written for this long is closed (default
    /// 60 s; the event stream sends a keep-alive every 15 s).
    pub idle_timeout: Duration,
    /// Connections served at once (default 1024); more are closed as they are accepted.
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Serves `router` on `listener` until `stop` completes, then lets the requests in progress
/// finish (kept-alive connections are closed after their current response).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    metrics: Arc<Metrics>,
    stop: impl Future<Output = ()>,
) -> io::Result<()> {
    let places = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stopping_tx, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _peer)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little rather than spin.
                        warn!(error = %e, "HTTP accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(place) = places.clone().try_acquire_owned() else {
                    Metrics::bump(&metrics.http_connections_refused);
                    debug!("HTTP connection limit reached: closing a new connection");
                    drop(stream);
                    continue;
                };
                connections.spawn(connection(
                    stream,
                    router.clone(),
                    limits,
                    place,
                    stopping.clone(),
                    metrics.clone(),
                ));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// One connection, until the client closes it, a timeout does, or the server stops.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: HttpLimits,
    _place: OwnedSemaphorePermit,
    mut stopping: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let router = TowerToHyperService::new(router);
    let handling = activity.clone();
    let idle_timeout = limits.idle_timeout;
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let busy = Busy::enter(handling.clone());
        let activity = handling.clone();
        let request = request.map(|body| {
            axum::body::Body::new(StallGuard {
                inner: body,
                activity,
                idle_timeout,
                stall: None,
            })
        });
        let answer = hyper::service::Service::call(&router, request);
        async move {
            let answered = answer.await;
            drop(busy);
            answered
        }
    });
    let conn = builder.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let mut stop_asked = false;
    loop {
        let idle_until = activity.last() + limits.idle_timeout;
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    if e.is_timeout() {
                        Metrics::bump(&metrics.http_header_timeouts);
                    }
                    debug!(error = %e, "HTTP connection ended");
                }
                return;
            }
            _ = stopping.wait_for(|s| *s), if !stop_asked => {
                stop_asked = true;
                conn.as_mut().graceful_shutdown();
            }
            () = tokio::time::sleep_until(idle_until) => {
                if activity.busy() {
                    activity.touch();
                } else if activity.last() + limits.idle_timeout <= Instant::now() {
                    Metrics::bump(&metrics.http_idle_timeouts);
                    debug!("HTTP connection idle: closing it");
                    // Dropping the connection closes the socket.
                    return;
                }
            }
        }
    }
}

/// When a byte last moved on a connection, in milliseconds since it was accepted, and how many
/// of its requests a handler is working on.
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
    handling: AtomicUsize,
}

/// A request a handler is working on: the connection is not idle meanwhile.
struct Busy(Arc<Activity>);

impl Busy {
    fn enter(activity: Arc<Activity>) -> Self {
        activity.handling.fetch_add(1, Ordering::Relaxed);
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.handling.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

impl Activity {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            handling: AtomicUsize::new(0),
        }
    }

    fn busy(&self) -> bool {
        self.handling.load(Ordering::Relaxed) > 0
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// A socket that notes when bytes move through it.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that fails once no byte has moved on its connection for the idle timeout
/// while the handler waits for more of it.
struct StallGuard {
    inner: Incoming,
    activity: Arc<Activity>,
    idle_timeout: Duration,
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// What a handler reading a stalled body gets.
#[derive(Debug, thiserror::Error)]
#[error("the request body stopped arriving")]
struct BodyStalled;

impl http_body::Body for StallGuard {
    type Data = axum::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.stall = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let deadline = this.activity.last() + this.idle_timeout;
                let stall = this
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if stall.deadline() != deadline {
                    stall.as_mut().reset(deadline);
                }
                match stall.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(BodyStalled.into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
