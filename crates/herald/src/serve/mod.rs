//! Accepting and serving HTTP/1.1 connections, with the limits that keep one client (no key
//! needed) from making Herald unavailable to everyone (issue 14).
//!
//! `axum::serve` runs hyper without a timer: a client that sends half a request line keeps its
//! socket forever, every such socket holds up to hyper's ~400 KB read buffer, enough of them
//! exhaust the descriptors (`accept` then fails on every call), and a graceful shutdown waits for
//! them indefinitely. This loop replaces it (after axum's `serve-with-hyper` and
//! `graceful-shutdown` examples) and bounds each of those:
//!
//! - **connections**: at most [`ServerSettings::max_connections`] at once; at the cap, the loop
//!   stops accepting and the kernel's backlog holds new connections until one closes. An
//!   `accept` that fails for lack of resources (descriptors, memory) is retried after a pause
//!   that doubles up to a second, never in a busy loop.
//! - **time**, per connection (`io`): a request's headers must arrive within the header-read
//!   timeout (for a new connection, counted from accept), a kept-alive connection may sit idle
//!   between requests for the idle timeout, and a response the client does not take within the
//!   idle timeout closes the connection. A request's body must arrive within the body-read
//!   timeout (`body`), else the request answers 408.
//! - **memory**: hyper's read buffer, and so the request line and headers, is capped at
//!   [`ServerSettings::max_header_bytes`] (431 beyond it).
//! - **shutdown**: on cancellation the loop stops accepting, connections finish their request in
//!   flight and close; those still open after [`ServerSettings::shutdown_timeout`] are dropped.
//! - **unread bodies** (`body`): a body a handler refused without reading it (413, 401) is
//!   drained, within bounds, while the answer is written, so the client reads the answer
//!   instead of a reset.
//!
//! With [`ServerSettings::tls`], connections are HTTPS (`tls`): the handshake runs on the
//! deadline-keeping socket, so it counts in the header-read timeout of the first request, and
//! every other limit applies unchanged underneath TLS.
//!
//! Only HTTP/1.1 is served (Novu's SDKs speak nothing else to a plain-HTTP server); put a proxy
//! in front for HTTP/2.

mod body;
mod io;
pub mod tls;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceExt};

use crate::ServerSettings;

use body::BodyDeadline;
pub use body::{BodyTimedOut, DRAIN_LIMIT};
use io::{Activity, Deadlines};

/// Where connections come from: a [`TcpListener`], or a fake in tests.
pub(crate) trait Listener: Send {
    fn accept(
        &mut self,
    ) -> impl std::future::Future<Output = std::io::Result<(TcpStream, SocketAddr)>> + Send;
}

impl Listener for TcpListener {
    async fn accept(&mut self) -> std::io::Result<(TcpStream, SocketAddr)> {
        TcpListener::accept(self).await
    }
}

/// The pause after an `accept` that failed for lack of resources: 5 ms, doubling up to 1 s, back
/// to 5 ms after a success.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(5);
    const MAX: Duration = Duration::from_secs(1);

    fn next(&mut self) -> Duration {
        let pause = Self::FIRST.saturating_mul(1 << self.failures.min(10));
        self.failures = self.failures.saturating_add(1);
        pause.min(Self::MAX)
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

/// Errors of one connection that went away before it was accepted: the next `accept` is fine.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Serves `app` on connections from `listener` until `shutdown` is cancelled, then drains the
/// open connections for at most the shutdown timeout and drops the rest.
pub(crate) async fn serve<L, S>(
    mut listener: L,
    app: S,
    settings: &ServerSettings,
    shutdown: CancellationToken,
) -> std::io::Result<()>
where
    L: Listener,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let limits = Arc::new(Limits::from(settings));
    let tls = settings.tls.as_ref().map(|tls| {
        if let Some(interval) = tls.reload_interval {
            tokio::spawn(tls.files.clone().watch(interval, shutdown.clone()));
        }
        TlsAcceptor::from(Arc::new(tls.files.server_config()))
    });
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    let mut backoff = Backoff::default();
    loop {
        let permit = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => {
                backoff.reset();
                stream
            }
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors or memory: retrying at once would spin on the same error.
                let pause = backoff.next();
                tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64, "accept failed; pausing");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(pause) => continue,
                }
            }
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(connection(
            stream,
            tls.clone(),
            app.clone(),
            limits.clone(),
            shutdown.clone(),
            permit,
        ));
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_timeout, drain)
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            timeout_ms = limits.shutdown_timeout.as_millis() as u64,
            "shutdown deadline passed; dropping the connections still open"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// [`ServerSettings`]' connection limits, made valid for hyper.
#[derive(Debug)]
struct Limits {
    header_read_timeout: Duration,
    idle_timeout: Duration,
    body_read_timeout: Duration,
    max_connections: usize,
    max_header_bytes: usize,
    shutdown_timeout: Duration,
}

/// hyper refuses read buffers under 8 KiB.
const MIN_HEADER_BYTES: usize = 8192;

impl From<&ServerSettings> for Limits {
    fn from(s: &ServerSettings) -> Self {
        let at_least_1ms = |d: Duration| d.max(Duration::from_millis(1));
        Limits {
            header_read_timeout: at_least_1ms(s.header_read_timeout),
            idle_timeout: at_least_1ms(s.idle_timeout),
            body_read_timeout: at_least_1ms(s.body_read_timeout),
            max_connections: s.max_connections.clamp(1, Semaphore::MAX_PERMITS),
            max_header_bytes: s.max_header_bytes.max(MIN_HEADER_BYTES),
            shutdown_timeout: s.shutdown_timeout,
        }
    }
}

/// Serves one connection, holding its `permit` until it closes: the TLS handshake first when
/// `tls` is set, then HTTP/1.1.
async fn connection<S>(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    app: S,
    limits: Arc<Limits>,
    shutdown: CancellationToken,
    _permit: OwnedSemaphorePermit,
) where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    // Responses are written whole; waiting to coalesce them only adds latency.
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::default());
    // The deadlines sit on the socket, under TLS: a handshake that stalls is a head that does
    // not arrive in time.
    let io = Deadlines::new(
        stream,
        activity.clone(),
        limits.header_read_timeout,
        limits.idle_timeout,
    );
    let Some(acceptor) = tls else {
        return serve_http(io, app, &limits, shutdown, activity).await;
    };
    let handshake = tokio::select! {
        biased;
        // No request is in flight yet: nothing to finish.
        _ = shutdown.cancelled() => return,
        handshake = acceptor.accept(io) => handshake,
    };
    match handshake {
        Ok(io) => serve_http(io, app, &limits, shutdown, activity).await,
        Err(e) => tracing::debug!(error = %e, "TLS handshake failed"),
    }
}

/// HTTP/1.1 on one connection until it closes, or until `shutdown` lets its request in flight
/// finish.
async fn serve_http<I, S>(
    io: I,
    app: S,
    limits: &Limits,
    shutdown: CancellationToken,
    activity: Arc<Activity>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let body_timeout = limits.body_read_timeout;
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        let busy = activity.enter();
        let expects_continue = req
            .headers()
            .get(hyper::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let body_activity = activity.clone();
        let req = req.map(|body| {
            Body::new(BodyDeadline::new(
                body,
                body_timeout,
                expects_continue,
                body_activity,
            ))
        });
        let call = app.clone().oneshot(req);
        async move {
            let response = call.await;
            drop(busy);
            response
        }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        // Header and idle timeouts are `io`'s, which tells them apart (hyper's one timer
        // starts as soon as a connection is idle, so it would close idle connections at the
        // header timeout).
        .header_read_timeout(None)
        .max_buf_size(limits.max_header_bytes)
        .max_headers(100);
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection closed with an error");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn the_accept_backoff_doubles_up_to_a_second_and_resets() {
        let mut b = Backoff::default();
        let pauses: Vec<u64> = (0..10).map(|_| b.next().as_millis() as u64).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        for _ in 0..100 {
            assert_eq!(b.next(), Backoff::MAX);
        }
        b.reset();
        assert_eq!(b.next(), Backoff::FIRST);
    }

    /// A listener whose every accept fails as if the process were out of descriptors.
    struct OutOfDescriptors(Arc<AtomicUsize>);

    impl Listener for OutOfDescriptors {
        async fn accept(&mut self) -> std::io::Result<(TcpStream, SocketAddr)> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(std::io::Error::from_raw_os_error(24)) // EMFILE
        }
    }

    #[tokio::test(start_paused = true)]
    async fn failing_accepts_are_retried_with_backoff_not_in_a_busy_loop() {
        let attempts = Arc::new(AtomicUsize::new(0));
        let shutdown = CancellationToken::new();
        let app = tower::service_fn(|_: Request| async {
            Ok::<_, Infallible>(Response::new(Body::empty()))
        });
        let server = tokio::spawn({
            let (listener, shutdown) = (OutOfDescriptors(attempts.clone()), shutdown.clone());
            async move { serve(listener, app, &ServerSettings::default(), shutdown).await }
        });
        // Ten (virtual) seconds of failures: 5 + 10 + … + 640 ms, then one attempt a second.
        tokio::time::sleep(Duration::from_secs(10)).await;
        let made = attempts.load(Ordering::SeqCst);
        assert!((14..=20).contains(&made), "{made} accept attempts in 10 s");
        shutdown.cancel();
        server.await.unwrap().unwrap();
    }
}
