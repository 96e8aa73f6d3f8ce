//! The real `herald` binary as a child process: started on `127.0.0.1:0` with its address read
//! from its "Herald is serving" log line, everything it writes kept, and killed with SIGKILL, as
//! in a crash.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use super::{Api, Database, DEV_KEY};

/// Upper bound on a server process reaching "Herald is serving" (migrations included). A guard
/// against a hung start, not a wait: the start is awaited on the log line itself.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What a server process wrote, each stream in full.
#[derive(Debug, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// The real `herald` binary serving on `127.0.0.1:0`, its address read from its "Herald is
/// serving" log line. Killed (SIGKILL) when dropped.
pub struct HeraldProcess {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    /// Authenticated with [`DEV_KEY`].
    pub api: Api,
    stdout: (Arc<Mutex<String>>, JoinHandle<()>),
    stderr: (Arc<Mutex<String>>, JoinHandle<()>),
    /// Notified after every line either stream adds.
    new_line: Arc<Notify>,
}

impl HeraldProcess {
    /// Starts `herald --bind 127.0.0.1:0 --database-url URL --api-key DEV_KEY` plus `extra`
    /// arguments, with the test keys in `HERALD_SECRET_KEY`, and returns once it logs its
    /// address (the listener is bound by then, so it accepts requests).
    pub async fn start(db: &Database, extra: &[&str]) -> HeraldProcess {
        Self::start_with_key(db, extra, Some(herald_core::secrets::TEST_SECRET_KEYS)).await
    }

    /// As [`HeraldProcess::start`], with `HERALD_SECRET_KEY` set to `key`, or unset.
    pub async fn start_with_key(db: &Database, extra: &[&str], key: Option<&str>) -> HeraldProcess {
        Self::start_with_env(db, extra, key, &[]).await
    }

    /// As [`HeraldProcess::start_with_key`], with these environment variables set too.
    pub async fn start_with_env(
        db: &Database,
        extra: &[&str],
        key: Option<&str>,
        env: &[(&str, &str)],
    ) -> HeraldProcess {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"));
        cmd.envs(env.iter().copied());
        match key {
            Some(key) => cmd.env("HERALD_SECRET_KEY", key),
            None => cmd.env_remove("HERALD_SECRET_KEY"),
        };
        cmd.env_remove("HERALD_SECRET_KEY_FILE");
        cmd.args(["--bind", "127.0.0.1:0", "--database-url", db.url()])
            .args(["--api-key", DEV_KEY, "--pg-max-connections", "4"])
            .args(extra)
            // The flags above win over these anyway; clearing them keeps a developer's shell out.
            .env_remove("HERALD_LOG")
            .env_remove("HERALD_AUTH_CACHE_TTL")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("starting the herald binary");
        let (lines_tx, mut lines) = mpsc::unbounded_channel();
        let new_line = Arc::new(Notify::new());
        let stdout = collect(child.stdout.take().expect("stdout"), None, new_line.clone());
        let mut stderr = collect(
            child.stderr.take().expect("stderr"),
            Some(lines_tx),
            new_line.clone(),
        );
        let serving = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = lines.recv().await {
                if line.contains("Herald is serving") {
                    return Some(line);
                }
            }
            None
        })
        .await;
        let line = match serving {
            Ok(Some(line)) => line,
            // The process ended (stderr closed) or hung before serving.
            _ => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                let _ = (&mut stderr.1).await;
                panic!(
                    "herald did not start serving; its stderr:\n{}",
                    stderr.0.lock().expect("stderr buffer")
                );
            }
        };
        let addr = parse_address(&line);
        HeraldProcess {
            child,
            addr,
            api: Api::new(addr, Some(DEV_KEY)),
            stdout,
            stderr,
            new_line,
        }
    }

    /// Sends `signal` (`TERM`, `INT`, `HUP`, …) without waiting for anything.
    pub async fn signal(&self, signal: &str) {
        let pid = self.child.id().expect("a running process").to_string();
        let sent = tokio::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .await
            .expect("running kill");
        assert!(sent.success(), "kill -{signal} {pid}");
    }

    /// Waits until the process has logged a line containing `needle` (on either stream), at most
    /// `START_TIMEOUT`; panics with the log otherwise.
    pub async fn wait_for_log(&self, needle: &str) {
        let found = tokio::time::timeout(START_TIMEOUT, async {
            loop {
                // Registered before looking, so a line added in between still wakes us.
                let next = self.new_line.notified();
                tokio::pin!(next);
                next.as_mut().enable();
                let seen =
                    |s: &Arc<Mutex<String>>| s.lock().expect("output buffer").contains(needle);
                if seen(&self.stderr.0) || seen(&self.stdout.0) {
                    return;
                }
                next.await;
            }
        })
        .await;
        if found.is_err() {
            panic!(
                "herald did not log {needle:?}; its stderr:\n{}",
                self.stderr.0.lock().expect("stderr buffer")
            );
        }
    }

    /// Waits for the process to exit by itself (after a signal), at most `START_TIMEOUT`.
    /// Returns everything it wrote and whether it exited with 0.
    pub async fn wait_exit(mut self) -> (Output, bool) {
        let status = tokio::time::timeout(START_TIMEOUT, self.child.wait())
            .await
            .expect("herald exits")
            .expect("waiting for herald");
        let _ = (&mut self.stdout.1).await;
        let _ = (&mut self.stderr.1).await;
        let take = |s: &Arc<Mutex<String>>| std::mem::take(&mut *s.lock().expect("output buffer"));
        (
            Output {
                stdout: take(&self.stdout.0),
                stderr: take(&self.stderr.0),
            },
            status.success(),
        )
    }

    /// What the process has written to stderr (its log) so far.
    pub fn log(&self) -> String {
        self.stderr.0.lock().expect("stderr buffer").clone()
    }

    /// SIGTERM, then waits for the process to exit (a graceful shutdown: in-flight requests and
    /// jobs finish). Returns everything the process wrote and whether it exited with 0.
    pub async fn terminate(mut self) -> (Output, bool) {
        let pid = self.child.id().expect("a running process").to_string();
        let sent = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("running kill");
        assert!(sent.success(), "kill -TERM {pid}");
        let status = tokio::time::timeout(START_TIMEOUT, self.child.wait())
            .await
            .expect("herald exits after SIGTERM")
            .expect("waiting for herald");
        let _ = (&mut self.stdout.1).await;
        let _ = (&mut self.stderr.1).await;
        let take = |s: &Arc<Mutex<String>>| std::mem::take(&mut *s.lock().expect("output buffer"));
        (
            Output {
                stdout: take(&self.stdout.0),
                stderr: take(&self.stderr.0),
            },
            status.success(),
        )
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown code runs, as in a crash. Returns
    /// everything the process wrote.
    pub async fn kill(mut self) -> Output {
        self.child.kill().await.expect("killing herald");
        // The pipes close with the process, which ends both collectors.
        let _ = (&mut self.stdout.1).await;
        let _ = (&mut self.stderr.1).await;
        let take = |s: &Arc<Mutex<String>>| std::mem::take(&mut *s.lock().expect("output buffer"));
        Output {
            stdout: take(&self.stdout.0),
            stderr: take(&self.stderr.0),
        }
    }
}

/// Reads `stream` line by line into a buffer (so the process never blocks on a full pipe),
/// forwarding each line to `lines` while anyone listens.
fn collect(
    stream: impl AsyncRead + Unpin + Send + 'static,
    lines: Option<mpsc::UnboundedSender<String>>,
    new_line: Arc<Notify>,
) -> (Arc<Mutex<String>>, JoinHandle<()>) {
    let buffer = Arc::new(Mutex::new(String::new()));
    let task = tokio::spawn({
        let buffer = buffer.clone();
        async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let line = strip_ansi(&line);
                if let Some(tx) = &lines {
                    let _ = tx.send(line.clone());
                }
                {
                    let mut b = buffer.lock().expect("output buffer");
                    b.push_str(&line);
                    b.push('\n');
                }
                new_line.notify_waiters();
            }
        }
    });
    (buffer, task)
}

/// `… Herald is serving address=127.0.0.1:40123 backend="sqlite"` → the address.
fn parse_address(line: &str) -> SocketAddr {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("address="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// Removes ANSI escape sequences (`ESC [ … letter`), in case colours are on.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
