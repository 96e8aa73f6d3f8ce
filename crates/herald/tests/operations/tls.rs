//! HTTPS on the listener: a real TLS client (reqwest with rustls, trusting only a CA made for
//! the test) on loopback; the certificate replaced without a restart (in process through the
//! reload the file check and SIGHUP use, and through the binary with SIGHUP); the handshake
//! bounded by the header-read timeout; 413s readable over TLS; a bad key pair refused at start.
//!
//! TLS does not depend on the store, so these run on SQLite only.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald::serve::tls::{CertificateFiles, TlsSettings};
use herald::ServerSettings;
use herald_store_postgres::test_support::tls::{IssuedCert, TestCa};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::raw::BOUND;
use crate::support::{App, Backend, Database, HeraldProcess, DEV_KEY};

/// The certificate and key files a server is started with, in a directory of the test's.
struct Files {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn new(issued: &IssuedCert) -> Files {
        let dir = tempfile::tempdir().unwrap();
        let files = Files {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            _dir: dir,
        };
        files.replace(issued);
        files
    }

    /// Writes both files the way renewal tools do: a new file renamed over the old one.
    fn replace(&self, issued: &IssuedCert) {
        for (path, pem) in [(&self.cert, &issued.cert_pem), (&self.key, &issued.key_pem)] {
            let fresh = path.with_extension("new");
            std::fs::write(&fresh, pem).unwrap();
            std::fs::rename(&fresh, path).unwrap();
        }
    }
}

fn der(issued: &IssuedCert) -> Vec<u8> {
    CertificateDer::from_pem_slice(issued.cert_pem.as_bytes())
        .unwrap()
        .to_vec()
}

/// A client that trusts only `ca` and keeps what the server presented. Each has its own TLS
/// session cache: a client that resumed an earlier session would be shown that session's
/// certificate, not the one served now.
fn client(ca: &TestCa) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap())
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// `GET /v1/health-check` over HTTPS from a new client: the status and the certificate the
/// server presented.
async fn health(ca: &TestCa, addr: std::net::SocketAddr) -> (u16, Vec<u8>) {
    let res = client(ca)
        .get(format!("https://127.0.0.1:{}/v1/health-check", addr.port()))
        .send()
        .await
        .expect("an HTTPS answer");
    let presented = res
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("the server's certificate")
        .to_vec();
    (res.status().as_u16(), presented)
}

fn tls_settings(files: &Files) -> TlsSettings {
    TlsSettings {
        files: Arc::new(CertificateFiles::load(files.cert.clone(), files.key.clone()).unwrap()),
        reload_interval: None,
    }
}

async fn tls_app(settings: ServerSettings) -> App {
    App::spawn(Backend::Sqlite, settings)
        .await
        .expect("SQLite is always available")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_served_and_a_new_certificate_is_taken_without_a_restart() {
    let ca = TestCa::new("Herald test CA");
    let first = ca.issue("herald first", &["localhost", "127.0.0.1"]);
    let second = ca.issue("herald second", &["localhost", "127.0.0.1"]);
    let files = Files::new(&first);
    let tls = tls_settings(&files);
    let certs = tls.files.clone();
    let app = tls_app(ServerSettings {
        tls: Some(tls),
        ..ServerSettings::default()
    })
    .await;
    let client = client(&ca);

    assert_eq!(health(&ca, app.dev.addr).await, (200, der(&first)));
    let created = client
        .post(format!(
            "https://127.0.0.1:{}/v1/subscribers",
            app.dev.addr.port()
        ))
        .header("Authorization", format!("ApiKey {DEV_KEY}"))
        .json(&serde_json::json!({"subscriberId": "over-tls"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    assert!(!certs.reload_if_changed().unwrap(), "nothing changed yet");
    files.replace(&second);
    assert!(certs.reload_if_changed().unwrap(), "the files changed");
    assert_eq!(health(&ca, app.dev.addr).await, (200, der(&second)));

    // A broken renewal keeps the certificate in use.
    std::fs::write(&files.key, "-----BEGIN PRIVATE KEY-----\nbroken\n").unwrap();
    let err = certs.reload().unwrap_err().to_string();
    assert!(err.contains("key.pem"), "{err}");
    assert_eq!(health(&ca, app.dev.addr).await, (200, der(&second)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_tls_handshake_is_cut_off_at_the_header_read_timeout() {
    let ca = TestCa::new("Herald test CA");
    let files = Files::new(&ca.issue("herald", &["127.0.0.1"]));
    let limit = Duration::from_millis(400);
    let app = tls_app(ServerSettings {
        tls: Some(tls_settings(&files)),
        header_read_timeout: limit,
        ..ServerSettings::default()
    })
    .await;
    let started = Instant::now();
    let mut stalled = TcpStream::connect(app.dev.addr).await.unwrap();
    // The first bytes of a ClientHello record, then nothing.
    tokio::io::AsyncWriteExt::write_all(&mut stalled, &[0x16, 0x03, 0x01])
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(BOUND, async {
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the connection was not closed");
    assert!(
        started.elapsed() >= limit,
        "closed after {:?}",
        started.elapsed()
    );
    // The server still serves.
    assert_eq!(health(&ca, app.dev.addr).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_gets_its_413_over_tls() {
    let ca = TestCa::new("Herald test CA");
    let files = Files::new(&ca.issue("herald", &["127.0.0.1"]));
    let app = tls_app(ServerSettings {
        tls: Some(tls_settings(&files)),
        ..ServerSettings::default()
    })
    .await;
    let client = client(&ca);
    let body = format!(
        r#"{{"subscriberId":"big","data":"{}"}}"#,
        "x".repeat(3_000_000)
    );
    for attempt in 0..5 {
        let res = client
            .post(format!(
                "https://127.0.0.1:{}/v1/subscribers",
                app.dev.addr.port()
            ))
            .header("Authorization", format!("ApiKey {DEV_KEY}"))
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("attempt {attempt}: {e:?}"));
        assert_eq!(res.status(), 413, "attempt {attempt}");
        let error: serde_json::Value = res.json().await.unwrap();
        assert_eq!(error["message"], "request entity too large");
    }
}

fn tls_flags(files: &Files, reload_interval: &str) -> Vec<String> {
    let path = |p: &Path| p.display().to_string();
    vec![
        "--tls-cert".into(),
        path(&files.cert),
        "--tls-key".into(),
        path(&files.key),
        "--tls-reload-interval".into(),
        reload_interval.into(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_https_and_takes_new_certificates_when_the_files_change_and_on_sighup() {
    let ca = TestCa::new("Herald test CA");
    let issued: Vec<IssuedCert> = ["first", "second", "third"]
        .iter()
        .map(|n| ca.issue(&format!("herald {n}"), &["127.0.0.1"]))
        .collect();
    let files = Files::new(&issued[0]);
    let db = Database::fresh(Backend::Sqlite).await.unwrap();
    let flags = tls_flags(&files, "1");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = HeraldProcess::start(&db, &flags).await;
    assert_eq!(health(&ca, server.addr).await, (200, der(&issued[0])));

    // Seen by the periodic check (every second here).
    files.replace(&issued[1]);
    server
        .wait_for_log("TLS certificate reloaded (the files changed)")
        .await;
    assert_eq!(health(&ca, server.addr).await, (200, der(&issued[1])));

    // Taken at once on SIGHUP.
    files.replace(&issued[2]);
    server.signal("HUP").await;
    server
        .wait_for_log("TLS certificate reloaded (SIGHUP)")
        .await;
    assert_eq!(health(&ca, server.addr).await, (200, der(&issued[2])));
    let (_, clean) = server.terminate().await;
    assert!(clean, "herald exits 0 after SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_does_not_fit_the_certificate_stops_startup_with_one_line() {
    let ca = TestCa::new("Herald test CA");
    let (one, other) = (
        ca.issue("one", &["127.0.0.1"]),
        ca.issue("other", &["127.0.0.1"]),
    );
    let files = Files::new(&IssuedCert {
        cert_pem: one.cert_pem,
        key_pem: other.key_pem,
    });
    let dir = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["--bind", "127.0.0.1:0", "--database-url"])
        .arg(format!("sqlite://{}", dir.path().join("h.db").display()))
        .args(tls_flags(&files, "60"))
        .env("HERALD_SECRET_KEY", herald_core::secrets::TEST_SECRET_KEYS)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // Refused before the first start created the organization and showed its keys.
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("API keys"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.starts_with("error: cannot load the TLS certificate: the key in ")
            && line.contains("does not fit the certificate in"),
        "{line}"
    );
}
