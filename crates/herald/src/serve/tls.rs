//! HTTPS on the listener (`HERALD_TLS_CERT`, `HERALD_TLS_KEY`), so that a single-VM install
//! needs no proxy, with the certificate replaced while Herald runs.
//!
//! [`CertificateFiles`] holds the certificate in use and answers every handshake with it (a
//! rustls `ResolvesServerCert`), so replacing it changes what new connections see without
//! touching the listener or the connections already open. It is reloaded:
//! - on `SIGHUP` (`main` calls [`CertificateFiles::reload`]), the conventional "re-read your
//!   files" signal, for a renewal hook (`certbot --deploy-hook 'pkill -HUP herald'`);
//! - when the files change, checked every [`TlsSettings::reload_interval`] by comparing each
//!   file's modification time, size and inode ([`CertificateFiles::reload_if_changed`]). Two
//!   `stat`s a minute cost nothing, see a file replaced by rename (certbot, Kubernetes secret
//!   volumes, which swap a symlink) as well as one rewritten in place, and need no inotify
//!   watch, which would have to follow symlink swaps and re-arm after renames to do the same.
//!
//! A reload that fails (a half-written file, a key that does not match the certificate) keeps
//! the certificate in use and logs why; at startup the same failure stops Herald with one line.
//! Only HTTP/1.1 is offered (ALPN `http/1.1`), as on plain connections.

use std::fmt;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_util::sync::CancellationToken;

/// Where the certificate and key come from, and how often their files are checked.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    pub files: Arc<CertificateFiles>,
    /// How often the files are checked for changes (`None`: only on `SIGHUP`).
    pub reload_interval: Option<Duration>,
}

/// Why a certificate could not be loaded; one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {cause}")]
    NoKey { path: PathBuf, cause: String },
    #[error("the key in {key} does not fit the certificate in {cert}: {cause}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        cause: String,
    },
}

/// What identifies a version of a file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    // `metadata` follows symlinks: a swapped link target is a new inode.
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode: meta.ino(),
    })
}

/// The certificate chain and key files, and the certificate loaded from them last.
pub struct CertificateFiles {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' stamps when `current` was loaded (or last failed to load, so a broken file
    /// is reported once, not at every check).
    seen: Mutex<(Option<Stamp>, Option<Stamp>)>,
}

impl fmt::Debug for CertificateFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateFiles")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl CertificateFiles {
    /// Loads both files (PEM: the certificate chain, leaf first, and its private key).
    pub fn load(cert_path: PathBuf, key_path: PathBuf) -> Result<Self, TlsError> {
        let seen = (stamp(&cert_path), stamp(&key_path));
        let key = read_pair(&cert_path, &key_path)?;
        Ok(CertificateFiles {
            cert_path,
            key_path,
            current: RwLock::new(Arc::new(key)),
            seen: Mutex::new(seen),
        })
    }

    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// Reads both files again and, if they hold a valid pair, serves it to new connections.
    /// On failure the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let seen = (stamp(&self.cert_path), stamp(&self.key_path));
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = seen;
        let key = read_pair(&self.cert_path, &self.key_path)?;
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(key);
        Ok(())
    }

    /// [`CertificateFiles::reload`] if either file changed since the last load or attempt;
    /// `Ok(true)` when a new certificate is in use.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = (stamp(&self.cert_path), stamp(&self.key_path));
        if *self.seen.lock().unwrap_or_else(PoisonError::into_inner) == now {
            return Ok(false);
        }
        self.reload().map(|()| true)
    }

    /// Checks the files every `interval` until `shutdown`, logging each reload and failure.
    pub(crate) async fn watch(self: Arc<Self>, interval: Duration, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let files = self.clone();
            let checked = tokio::task::spawn_blocking(move || files.reload_if_changed()).await;
            match checked {
                Ok(Ok(true)) => tracing::info!(
                    cert = %self.cert_path.display(),
                    "TLS certificate reloaded (the files changed)"
                ),
                Ok(Err(e)) => tracing::error!(
                    error = %e,
                    "TLS certificate not reloaded; still serving the previous one"
                ),
                Ok(Ok(false)) | Err(_) => {}
            }
        }
    }

    /// The rustls configuration serving these files: TLS 1.2 and 1.3, HTTP/1.1 only.
    pub(crate) fn server_config(self: &Arc<Self>) -> rustls::ServerConfig {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }
}

impl ResolvesServerCert for CertificateFiles {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// rustls on ring, as reqwest and sqlx use it here. rustls 0.23.48 deprecates ring's provider
/// for lacking post-quantum key exchange; aws-lc-rs, which has it, is a C and assembly build
/// (cmake, NASM) that we keep out of the dependency tree. X25519 and the NIST curves remain.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_owned(),
        source,
    })
}

fn read_pair(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert_path)?)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert_path.to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(&read(key_path)?).map_err(|e| TlsError::NoKey {
        path: key_path.to_owned(),
        cause: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| TlsError::Mismatch {
        cert: cert_path.to_owned(),
        key: key_path.to_owned(),
        cause: e.to_string(),
    })
}
