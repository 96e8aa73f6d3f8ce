//! Request bodies: the body-read timeout, and draining what a handler leaves unread.
//!
//! **Timeout.** A request body must arrive whole within a deadline counted from the moment its
//! headers were read. A client that announces a body and trickles it, or never sends it, would
//! otherwise hold its connection and a handler for as long as it likes. The body fails with
//! [`BodyTimedOut`] once the deadline passes, which the JSON extractor answers with 408 in Novu's
//! format (`http::extract`).
//!
//! **Draining.** A handler that refuses a request before reading all of its body (a 413 for a
//! body over the limit, a 401 for a bad key) drops the rest unread. hyper then closes the
//! connection at once, with the client still sending: the kernel answers the unread bytes with a
//! reset, and most clients (Node's `fetch`, Python's `requests`) report that reset (`EPIPE`,
//! `ECONNRESET`) instead of the answer, then retry. So a body dropped unfinished is handed to a
//! task that reads and discards the rest while hyper writes the answer, up to [`DRAIN_LIMIT`]
//! bytes and within the same body-read deadline, keeping the connection busy meanwhile. A client
//! that finished sending then reads the answer from an orderly connection. Past either bound the
//! body is dropped and the connection closes as before: draining is never unbounded.
//!
//! A request that sent `Expect: 100-continue` and whose body was never read is not drained:
//! its client is still waiting for permission to send, hyper never gives it, and the answer
//! reaches the client before any of the body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use std::sync::Arc;

use super::io::{Activity, Busy};

/// The most of an unread body drained after its answer: above the 10 MB bodies real clients
/// send by mistake (a file in a JSON field), small enough to read in well under a second on a
/// local network.
pub const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;

/// A request body that did not arrive within the body-read timeout.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0:?}")]
pub struct BodyTimedOut(pub Duration);

impl BodyTimedOut {
    /// Whether `e`, or any error it was caused by, is a [`BodyTimedOut`].
    pub fn is_cause_of(e: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(e);
        while let Some(e) = next {
            if e.is::<BodyTimedOut>() {
                return true;
            }
            next = e.source();
        }
        false
    }
}

/// A request body that fails with [`BodyTimedOut`] past its deadline, and is drained when
/// dropped unfinished (see the module docs).
pub(super) struct BodyDeadline {
    /// `None` once handed to the drain.
    inner: Option<Incoming>,
    limit: Duration,
    deadline: Instant,
    /// Created on the first read that has to wait, so bodies read at once cost no timer.
    timer: Option<Pin<Box<Sleep>>>,
    /// The end of the body (or an error) has been read: nothing is left to drain.
    finished: bool,
    /// Some frame has been asked for: hyper has sent `100 Continue` if the client wanted one.
    polled: bool,
    /// The client sent `Expect: 100-continue`.
    expects_continue: bool,
    /// The connection's requests: a drain marks it busy while it runs.
    activity: Arc<Activity>,
}

impl BodyDeadline {
    pub(super) fn new(
        inner: Incoming,
        limit: Duration,
        expects_continue: bool,
        activity: Arc<Activity>,
    ) -> Self {
        BodyDeadline {
            inner: Some(inner),
            limit,
            deadline: Instant::now() + limit,
            timer: None,
            finished: false,
            polled: false,
            expects_continue,
            activity,
        }
    }
}

impl Body for BodyDeadline {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        this.polled = true;
        if let Poll::Ready(frame) = Pin::new(inner).poll_frame(cx) {
            if !matches!(frame, Some(Ok(_))) {
                this.finished = true;
            }
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.finished = true;
                Poll::Ready(Some(Err(Box::new(BodyTimedOut(this.limit)))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint)
    }
}

impl Drop for BodyDeadline {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        let unread = !self.finished && !inner.is_end_stream();
        let waiting_for_continue = self.expects_continue && !self.polled;
        if !unread || waiting_for_continue {
            return;
        }
        // Requests are served on the runtime; outside one (never in Herald) the body just drops.
        // Entered before the handler's answer is done, so the connection never looks idle
        // in between.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(drain(inner, self.deadline, self.activity.enter()));
        }
    }
}

/// Reads and discards `body` until its end, [`DRAIN_LIMIT`] bytes or `deadline`, whichever
/// comes first; the connection stays busy (no idle or header deadline) until then.
async fn drain(mut body: Incoming, deadline: Instant, busy: Busy) {
    let discard = async {
        let mut left = DRAIN_LIMIT;
        loop {
            match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                Some(Ok(frame)) => {
                    let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                    match left.checked_sub(n) {
                        Some(rest) => left = rest,
                        None => return false,
                    }
                }
                Some(Err(_)) => return false,
                None => return true,
            }
        }
    };
    let drained = tokio::time::timeout_at(deadline, discard).await;
    if !matches!(drained, Ok(true)) {
        tracing::debug!("stopped draining an unread request body; closing the connection");
    }
    drop(body);
    drop(busy);
}
