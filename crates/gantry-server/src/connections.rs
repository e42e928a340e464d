//! The accept loop and the life of one connection, bounded in count and in time.
//!
//! `axum::serve` keeps a connection for as long as the client likes: a socket that sends half
//! a request head, or nothing at all, holds a descriptor forever, and a few dozen of them took
//! a server with a low descriptor limit down. Here every connection is served by hyper with
//! these bounds:
//!
//! - header timeout: from when a connection is ready for a request (just opened, or done with
//!   the previous one) until that request's head is complete; a trickled head is cut off;
//! - idle timeout: a connection on which no byte moves while no request is being handled is
//!   closed;
//! - body timeout: a request body that gets no byte for this long fails (the handler sees an
//!   error and answers 400), and a response the client stops reading is dropped;
//! - a cap on connections served at once; above it, new connections wait in the listen
//!   backlog, so descriptors are never exhausted by clients.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::Router;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

use crate::config::ServerConfig;
use crate::middleware::ProgressBody;

/// The bounds of every connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header: Duration,
    pub(crate) idle: Duration,
    pub(crate) body: Duration,
    pub(crate) upload: Duration,
    pub(crate) max_connections: usize,
}

impl Limits {
    pub(crate) fn from_config(config: &ServerConfig) -> Self {
        Self {
            header: Duration::from_secs(config.header_timeout_seconds),
            idle: Duration::from_secs(config.idle_timeout_seconds),
            body: Duration::from_secs(config.body_timeout_seconds),
            upload: Duration::from_secs(config.upload_timeout_seconds),
            max_connections: config.max_connections,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open connections finish
/// their requests and returns once all are closed.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        // A permit first: at the cap, connections queue in the kernel's backlog rather than
        // holding descriptors here.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (tcp, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors or a connection reset before accept: wait a little
                    // rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small responses would otherwise wait on Nagle's algorithm when a client reuses its
        // connection.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let router = router.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            connection(tcp, addr, router, limits, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a permit until it closes.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

/// What the watchdog of a connection looks at.
struct Activity {
    origin: Instant,
    /// Milliseconds since `origin` of the last byte read or written.
    last_io: AtomicU64,
    /// Milliseconds since `origin` since which a write has been waiting (0: none waits).
    write_waiting_since: AtomicU64,
    /// Requests being handled, counted until their response body is dropped.
    busy: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            last_io: AtomicU64::new(0),
            write_waiting_since: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        // At least 1 so that 0 can mean "none".
        u64::try_from(self.origin.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    fn moved(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// Why the connection should be closed now, if it should.
    fn expired(&self, limits: &Limits) -> Option<&'static str> {
        let now = self.now();
        let idle = Duration::from_millis(now - self.last_io.load(Ordering::Relaxed).min(now));
        if self.busy.load(Ordering::Relaxed) == 0 && idle > limits.idle {
            return Some("idle");
        }
        let since = self.write_waiting_since.load(Ordering::Relaxed);
        if since != 0 && Duration::from_millis(now.saturating_sub(since)) > limits.body {
            return Some("the client stopped reading the response");
        }
        None
    }
}

/// Counts a request as being handled for as long as it lives.
struct Busy(Arc<Activity>);

impl Busy {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(activity))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.moved();
    }
}

/// A response body that keeps its request counted as busy until hyper is done with it.
struct Guarded {
    inner: Body,
    _busy: Busy,
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, noting every byte that moves and every write that has to wait.
struct Watched {
    tcp: TcpStream,
    activity: Arc<Activity>,
}

impl Watched {
    fn wrote(&self, result: &Poll<std::io::Result<usize>>) {
        match result {
            Poll::Pending => {
                let now = self.activity.now();
                let _ = self.activity.write_waiting_since.compare_exchange(
                    0,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            Poll::Ready(_) => {
                self.activity
                    .write_waiting_since
                    .store(0, Ordering::Relaxed);
                self.activity.moved();
            }
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.moved();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.tcp).poll_write(cx, buf);
        self.wrote(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        self.wrote(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

async fn connection(
    tcp: TcpStream,
    addr: SocketAddr,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::new());
    activity.moved();
    let io = TokioIo::new(Watched {
        tcp,
        activity: Arc::clone(&activity),
    });
    let for_requests = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let busy = Busy::start(&for_requests);
        let router = router.clone();
        async move {
            let mut request = request.map(|body| {
                Body::new(ProgressBody::new(
                    Body::new(body),
                    limits.body,
                    limits.upload,
                ))
            });
            request.extensions_mut().insert(ConnectInfo(addr));
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(response.map(|inner| Guarded { inner, _busy: busy }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header)
        .keep_alive(true);
    let mut conn = pin!(builder.serve_connection(io, service));
    // Coarse ticks are enough: the bounds are tens of seconds by default.
    let tick =
        (limits.idle.min(limits.body) / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut ticks = tokio::time::interval(tick);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %addr, "connection ended with an error");
                }
                return;
            }
            _ = ticks.tick() => {
                if let Some(why) = activity.expired(&limits) {
                    tracing::debug!(%addr, why, "closing connection");
                    return;
                }
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    // Finishes the request in flight, if any, then closes.
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
