//! A throwaway PostgreSQL cluster for one test process, made with the installed `initdb` and
//! `pg_ctl`.
//!
//! - PostgreSQL refuses to run as root, so as root the binaries run as the `postgres` user, in a
//!   temporary directory that user owns.
//! - It listens on 127.0.0.1 on a free port with trust authentication, and its Unix socket lives in
//!   the temporary directory, so it never clashes with a system server or another test process.
//! - Readiness is `pg_ctl start -w`, which blocks until the server accepts connections: no sleeps.
//! - Teardown cannot rely on destructors (statics are never dropped and a killed test process runs
//!   no code), so a watchdog shell is started first, in its own process group, reading a pipe
//!   whose only writer is this process. When the process ends, however it ends, the kernel closes
//!   the pipe, the watchdog's read returns, and it runs `pg_ctl stop -m immediate` and removes the
//!   directory. If even the watchdog was killed, the next test process finds the directory (its
//!   `owner.pid` names a dead process) and removes it the same way.
//! - [`Cluster::start_with`] can give it a server certificate and `ssl = on`, for the TLS tests;
//!   plain and TLS connections are both accepted then (trust authentication for each), so a
//!   test chooses with `sslmode` alone.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

const DIR_PREFIX: &str = "herald-pg-test-";
const OWNER_FILE: &str = "owner.pid";
/// Attempts at a free port: another process may take the port between our probe and the bind.
const PORT_ATTEMPTS: usize = 5;

/// A running throwaway cluster. Lives in a static for the whole test process.
#[derive(Debug)]
pub struct Cluster {
    port: u16,
    dir: PathBuf,
    /// Held open until the process exits; see the module docs.
    _watchdog: Mutex<ChildStdin>,
}

/// The server certificate (chain, leaf first) and key of a cluster with `ssl = on`, PEM.
#[derive(Clone, Debug)]
pub struct ClusterTls {
    pub cert_pem: String,
    pub key_pem: String,
}

/// Who runs the PostgreSQL binaries: this process's user, or `postgres` when we are root.
#[derive(Clone, Copy)]
struct RunAs(Option<(u32, u32)>);

impl RunAs {
    fn detect() -> Result<Self, String> {
        if id(&["-u"])? != 0 {
            return Ok(RunAs(None));
        }
        let uid = id(&["-u", "postgres"])
            .map_err(|_| "running as root and there is no `postgres` user to run PostgreSQL as")?;
        let gid = id(&["-g", "postgres"])?;
        Ok(RunAs(Some((uid, gid))))
    }

    fn command(self, program: &Path, cwd: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(cwd).stdin(Stdio::null());
        if let Some((uid, gid)) = self.0 {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn chown(self, path: &Path) -> Result<(), String> {
        match self.0 {
            Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| format!("cannot hand {} to postgres: {e}", path.display())),
            None => Ok(()),
        }
    }
}

fn id(args: &[&str]) -> Result<u32, String> {
    let out = Command::new("id")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `id`: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| format!("`id {}` failed", args.join(" ")))
}

/// The directory holding `initdb` and `pg_ctl`: the newest `/usr/lib/postgresql/*/bin`, else PATH.
fn find_binaries() -> Result<PathBuf, String> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versioned.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    versioned
        .into_iter()
        .map(|(_, dir)| dir)
        .chain(on_path)
        .find(|d| has_both(d))
        .ok_or_else(|| "no initdb and pg_ctl in /usr/lib/postgresql/*/bin or on PATH".to_string())
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// The last lines of a failed command's output and of the server log, for the skip reason.
fn failure(what: &str, out: &Output, log: Option<&Path>) -> String {
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    if let Some(log) = log {
        text.push_str(&fs::read_to_string(log).unwrap_or_default());
    }
    let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
    format!("{what} failed ({}): {tail}", out.status)
}

impl Cluster {
    /// Starts a cluster, or says why it could not.
    pub fn start() -> Result<Cluster, String> {
        Self::start_with(None)
    }

    /// Starts a cluster, serving TLS with `tls` when given, or says why it could not.
    pub fn start_with(tls: Option<&ClusterTls>) -> Result<Cluster, String> {
        let bin = find_binaries()?;
        let run_as = RunAs::detect()?;
        sweep_stale(&bin, run_as);

        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir =
            std::env::temp_dir().join(format!("{DIR_PREFIX}{}-{nanos:x}", std::process::id()));
        fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        fs::write(dir.join(OWNER_FILE), std::process::id().to_string())
            .map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot restrict {}: {e}", dir.display()))?;
        run_as.chown(&dir)?;

        let data = dir.join("data");
        let log = dir.join("server.log");
        let watchdog = spawn_watchdog(&bin, &dir, &data, run_as)?;

        let out = run_as
            .command(&bin.join("initdb"), &dir)
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .arg("-D")
            .arg(&data)
            .output()
            .map_err(|e| format!("cannot run initdb: {e}"))?;
        if !out.status.success() {
            return Err(failure("initdb", &out, None));
        }
        // Test data is disposable: trade durability for speed, and keep off the system socket dir.
        let settings = format!(
            "\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             max_connections = 300\n",
            dir.display()
        );
        append(&data.join("postgresql.conf"), &settings)?;
        if let Some(tls) = tls {
            // PostgreSQL refuses a key file others can read.
            for (name, pem, mode) in [
                ("server.crt", &tls.cert_pem, 0o644),
                ("server.key", &tls.key_pem, 0o600),
            ] {
                let path = data.join(name);
                fs::write(&path, pem)
                    .and_then(|()| fs::set_permissions(&path, fs::Permissions::from_mode(mode)))
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                run_as.chown(&path)?;
            }
            append(
                &data.join("postgresql.conf"),
                "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
            )?;
        }

        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            // A later `port` line overrides an earlier one, so a retry just appends another.
            append(&data.join("postgresql.conf"), &format!("port = {port}\n"))?;
            let out = run_as
                .command(&bin.join("pg_ctl"), &dir)
                .args(["-w", "-t", "60", "-l"])
                .arg(&log)
                .arg("-D")
                .arg(&data)
                .arg("start")
                .output()
                .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
            if out.status.success() {
                return Ok(Cluster {
                    port,
                    dir,
                    _watchdog: Mutex::new(watchdog),
                });
            }
            last_error = failure("pg_ctl start", &out, Some(&log));
            let in_use = fs::read_to_string(&log).is_ok_and(|l| l.contains("already in use"));
            if !in_use {
                break;
            }
        }
        Err(last_error)
    }

    /// The maintenance database, to run `CREATE DATABASE` from.
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Starts the shell that stops the cluster and removes `dir` once this process is gone.
fn spawn_watchdog(
    bin: &Path,
    dir: &Path,
    data: &Path,
    run_as: RunAs,
) -> Result<ChildStdin, String> {
    let script =
        r#"cat >/dev/null 2>&1; "$0" -D "$1" stop -m immediate >/dev/null 2>&1; rm -rf "$2""#;
    let mut child = run_as
        .command(Path::new("sh"), dir)
        .arg("-c")
        .arg(script)
        .arg(bin.join("pg_ctl"))
        .arg(data)
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a Ctrl-C aimed at `cargo test` must not kill it before cleanup.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the cleanup watchdog: {e}"))?;
    child
        .stdin
        .take()
        .ok_or_else(|| "the cleanup watchdog has no stdin".to_string())
}

/// Stops and removes clusters whose test process died without its watchdog cleaning up.
fn sweep_stale(bin: &Path, run_as: RunAs) {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(DIR_PREFIX));
        let Some(owner) = is_ours
            .then(|| fs::read_to_string(path.join(OWNER_FILE)).ok())
            .flatten()
        else {
            continue;
        };
        let alive = owner
            .trim()
            .parse::<u32>()
            .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if alive {
            continue;
        }
        let _ = run_as
            .command(&bin.join("pg_ctl"), &std::env::temp_dir())
            .arg("-D")
            .arg(path.join("data"))
            .args(["stop", "-m", "immediate"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = fs::remove_dir_all(&path);
    }
}
