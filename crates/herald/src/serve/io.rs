//! The header-read, idle and send timeouts of one connection, kept at the socket: hyper's own
//! header timer starts whenever a connection is idle, so it cannot tell "slow headers" from
//! "kept alive between requests", which want different limits.
//!
//! [`Deadlines`] wraps the socket and knows, through [`Activity`], whether a request is being
//! handled on it. It is in one of three phases:
//! - **head**: no request is being handled and bytes of the next one are expected: from accept,
//!   and from the first byte after an idle period. Reads must complete the headers before the
//!   header-read timeout (counted from the phase's start, not per byte, so trickling bytes does
//!   not help).
//! - **idle**: between requests on a kept-alive connection, no byte of the next one yet; ends
//!   after the idle timeout.
//! - **busy**: a request is being handled. No read deadline here: the body has its own (see
//!   `body`), and the handler's time is bounded by the statement timeout.
//!
//! In any phase, a write that makes no progress for the idle timeout (the client stopped reading
//! its response) fails. A deadline that passes fails the pending read or write with `TimedOut`,
//! and hyper closes the connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How many requests of a connection are being handled (their service future is running), and
/// the reader to wake when the last one is done: hyper does not read again after a response
/// unless woken, so without that wake-up the idle deadline would never start.
#[derive(Debug, Default)]
pub(super) struct Activity {
    handling: AtomicUsize,
    reader: Mutex<Option<Waker>>,
}

impl Activity {
    /// Marks a request as being handled until the returned guard is dropped.
    pub(super) fn enter(self: &Arc<Self>) -> Busy {
        self.handling.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    fn busy(&self) -> bool {
        self.handling.load(Ordering::SeqCst) > 0
    }

    fn wake_reader_when_done(&self, waker: &Waker) {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        match reader.as_ref() {
            Some(w) if w.will_wake(waker) => {}
            _ => *reader = Some(waker.clone()),
        }
    }
}

/// A request being handled (see [`Activity::enter`]).
pub(super) struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        if self.0.handling.fetch_sub(1, Ordering::SeqCst) == 1 {
            let reader = self
                .0
                .reader
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(reader) = reader {
                reader.wake();
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Head,
    Idle,
    Busy,
}

/// A socket with the header-read, idle and send deadlines of the module docs.
pub(super) struct Deadlines<T> {
    inner: T,
    activity: Arc<Activity>,
    header_timeout: Duration,
    idle_timeout: Duration,
    phase: Phase,
    /// The deadline of the head or idle phase.
    read_deadline: Pin<Box<Sleep>>,
    /// Armed while a write is stalled.
    write_deadline: Pin<Box<Sleep>>,
    write_stalled: bool,
}

impl<T> Deadlines<T> {
    /// A fresh connection: its first request's headers are due within `header_timeout`.
    pub(super) fn new(
        inner: T,
        activity: Arc<Activity>,
        header_timeout: Duration,
        idle_timeout: Duration,
    ) -> Self {
        let now = Instant::now();
        Deadlines {
            inner,
            activity,
            header_timeout,
            idle_timeout,
            phase: Phase::Head,
            read_deadline: Box::pin(tokio::time::sleep_until(now + header_timeout)),
            write_deadline: Box::pin(tokio::time::sleep_until(now + idle_timeout)),
            write_stalled: false,
        }
    }

    fn enter(&mut self, phase: Phase, timeout: Duration) {
        self.phase = phase;
        self.read_deadline.as_mut().reset(Instant::now() + timeout);
    }

    /// Follows the handling of requests: busy while one is handled, idle once it is done.
    fn sync_phase(&mut self) {
        if self.activity.busy() {
            self.phase = Phase::Busy;
        } else if self.phase == Phase::Busy {
            self.enter(Phase::Idle, self.idle_timeout);
        }
    }

    /// A write that could not make progress: fails once it has been stalled for the idle
    /// timeout.
    fn poll_stalled_write<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        if !self.write_stalled {
            self.write_stalled = true;
            self.write_deadline
                .as_mut()
                .reset(Instant::now() + self.idle_timeout);
        }
        match self.write_deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read its response in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn wrote<R>(&mut self, r: Poll<io::Result<R>>, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        match r {
            Poll::Pending => self.poll_stalled_write(cx),
            ready => {
                self.write_stalled = false;
                ready
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Deadlines<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        this.sync_phase();
        match polled {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && this.phase == Phase::Idle {
                    // The first byte of the next request: its headers are due from now.
                    this.enter(Phase::Head, this.header_timeout);
                }
                return Poll::Ready(Ok(()));
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {}
        }
        if this.phase == Phase::Busy {
            // Woken when the request is done, to start the idle deadline; checked again after
            // registering, in case it was done meanwhile.
            this.activity.wake_reader_when_done(cx.waker());
            this.sync_phase();
            if this.phase == Phase::Busy {
                return Poll::Pending;
            }
        }
        match this.read_deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                if this.phase == Phase::Head {
                    "the request headers did not arrive in time"
                } else {
                    "the connection was idle for too long"
                },
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Deadlines<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(r, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        this.wrote(r, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.wrote(r, cx)
    }
}
