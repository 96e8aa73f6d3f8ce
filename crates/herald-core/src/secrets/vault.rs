//! The [`Vault`]: what a store holds at run time to encrypt and decrypt, and the check made when a
//! store opens that this process's keys belong to the database.
//!
//! The database registers its keys in a `secret_keys` table: one row per key id, holding the
//! token [`HashKey`] wrapped (encrypted) under that key, and a mark on the one key new values are
//! encrypted under (the *current* key). Opening a store unwraps the hash key with any key of the
//! process's [`Keyring`]: that proves the keyring belongs to this database before anything is
//! decrypted, and a wrong key is one clear error instead of failed reads later.
//!
//! The current key lives in the database rather than in each process's configuration so that a
//! rotation needs no coordinated restart: once every process holds the new key (as a secondary
//! key), `herald secrets rotate` marks it current and every process switches to encrypting with it
//! the next time it checks (at most [`KeyProvider::check_every`] later). A process whose keys come
//! from a key file re-reads the file when it meets a key id it does not hold.

use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::cipher::{is_owner_bound, key_id_of, Field, HashKey, Owner, SecretError};
use super::keys::{list_ids, KeyError, KeyId, Keyring};
use crate::ChannelCredentials;

/// Re-reads the process's keys (from its key file).
pub type Reload = Arc<dyn Fn() -> Result<Keyring, KeyError> + Send + Sync>;

/// How long a vault trusts its idea of the database's current key.
pub const DEFAULT_CHECK_EVERY: Duration = Duration::from_secs(5);

/// Key reloads are attempted at most this often (an unknown key id on every read would
/// otherwise re-read the key file on every read).
const RELOAD_EVERY: Duration = Duration::from_secs(1);

/// Where a store gets its keys: a keyring, optionally a way to re-read it, and how often to check
/// which key the database wants new values encrypted under.
#[derive(Clone)]
pub struct KeyProvider {
    keyring: Keyring,
    reload: Option<Reload>,
    check_every: Duration,
}

impl KeyProvider {
    pub fn new(keyring: Keyring) -> KeyProvider {
        KeyProvider {
            keyring,
            reload: None,
            check_every: DEFAULT_CHECK_EVERY,
        }
    }

    /// Re-read the keys with `reload` when a key id is missing (a key file updated by rotation).
    pub fn reloading(mut self, reload: Reload) -> KeyProvider {
        self.reload = Some(reload);
        self
    }

    /// How often writes check the database's current key.
    pub fn check_every(mut self, every: Duration) -> KeyProvider {
        self.check_every = every;
        self
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// Checks the process's keys against the database's `secret_keys` rows.
    pub fn unlock(&self, stored: &[StoredKey]) -> Result<Unlock, UnlockError> {
        if stored.is_empty() {
            let hash_key = HashKey::generate();
            let id = self.keyring.primary().id().clone();
            let wrapped = self
                .keyring
                .seal(&id, Field::HashKey, "", hash_key.as_bytes())
                .map_err(|e| UnlockError::Corrupt(e.to_string()))?;
            let row = StoredKey {
                key_id: id.clone(),
                wrapped_hash_key: wrapped,
                current: true,
            };
            let vault = Vault::new(self, self.keyring.clone(), hash_key, id);
            return Ok(Unlock::Fresh { vault, row });
        }
        let mut keyring = self.keyring.clone();
        let held = |ring: &Keyring| stored.iter().any(|s| ring.contains(&s.key_id));
        let current = stored
            .iter()
            .find(|s| s.current)
            .map(|s| s.key_id.clone())
            .ok_or_else(|| UnlockError::Corrupt("no key is marked current".into()))?;
        if !held(&keyring) || !keyring.contains(&current) {
            if let Some(reloaded) = self.reload.as_ref().and_then(|r| r().ok()) {
                keyring = reloaded;
            }
        }
        let Some(row) = stored.iter().find(|s| keyring.contains(&s.key_id)) else {
            return Err(UnlockError::WrongKey {
                stored: stored.iter().map(|s| s.key_id.clone()).collect(),
                held: keyring.ids(),
            });
        };
        let bytes = keyring
            .open(Field::HashKey, "", &row.wrapped_hash_key)
            .map_err(|e| {
                UnlockError::Corrupt(format!("the hash key of key id {}: {e}", row.key_id))
            })?;
        let hash_key = HashKey::from_bytes(&bytes).ok_or_else(|| {
            UnlockError::Corrupt("the stored hash key has the wrong length".into())
        })?;
        if !keyring.contains(&current) {
            return Err(UnlockError::MissingCurrent {
                current,
                held: keyring.ids(),
            });
        }
        Ok(Unlock::Ready(Vault::new(self, keyring, hash_key, current)))
    }
}

impl From<Keyring> for KeyProvider {
    fn from(keyring: Keyring) -> Self {
        KeyProvider::new(keyring)
    }
}

/// One row of `secret_keys`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredKey {
    pub key_id: KeyId,
    /// The hash key sealed under this key ([`Field::HashKey`], database-wide scope).
    pub wrapped_hash_key: String,
    /// Whether new values are encrypted under this key.
    pub current: bool,
}

/// The outcome of [`KeyProvider::unlock`].
pub enum Unlock {
    /// The database had no keys: the store must insert `row` and encrypt every value still
    /// stored in plain text, in the same transaction.
    Fresh { vault: Vault, row: StoredKey },
    /// The keys fit the database.
    Ready(Vault),
}

/// Why a store cannot use this process's keys. Each displays as one line, without key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnlockError {
    #[error("the secret key does not match this database (it was encrypted with key id {stored}; this process holds key id {held}); set HERALD_SECRET_KEY to the key this database was created with", stored = list_ids(.stored), held = list_ids(.held))]
    WrongKey {
        stored: Vec<KeyId>,
        held: Vec<KeyId>,
    },
    #[error("this database encrypts new values with key id {current}, which this process does not hold (it holds key id {held}); add that key to HERALD_SECRET_KEY", held = list_ids(.held))]
    MissingCurrent { current: KeyId, held: Vec<KeyId> },
    #[error("the database's secret key table is damaged: {0}")]
    Corrupt(String),
}

struct State {
    keyring: Arc<Keyring>,
    /// The database's current key, which this process holds.
    sealing: KeyId,
}

/// Encrypts and decrypts a store's secret fields. Shared by all of a store's connections.
pub struct Vault {
    state: RwLock<State>,
    hash_key: HashKey,
    reload: Option<Reload>,
    check_every: Duration,
    last_check: Mutex<Option<Instant>>,
    last_reload: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("sealing", &self.sealing_id())
            .finish_non_exhaustive()
    }
}

impl Vault {
    fn new(provider: &KeyProvider, keyring: Keyring, hash_key: HashKey, sealing: KeyId) -> Vault {
        Vault {
            state: RwLock::new(State {
                keyring: Arc::new(keyring),
                sealing,
            }),
            hash_key,
            reload: provider.reload.clone(),
            check_every: provider.check_every,
            last_check: Mutex::new(Some(Instant::now())),
            last_reload: Mutex::new(None),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key new values are encrypted under.
    pub fn sealing_id(&self) -> KeyId {
        self.read().sealing.clone()
    }

    pub fn keyring(&self) -> Arc<Keyring> {
        self.read().keyring.clone()
    }

    /// Encrypts `plaintext` for `field` of `env`, bound to `owner`, under the current key.
    pub fn encrypt(
        &self,
        field: Field,
        env: &str,
        owner: Owner<'_>,
        plaintext: &str,
    ) -> Result<String, SecretError> {
        let state = self.read();
        state
            .keyring
            .seal_owned(&state.sealing, field, env, owner, plaintext.as_bytes())
    }

    /// Decrypts a value [`Vault::encrypt`] wrote for the same field, environment and owner. A
    /// value moved from another row fails with [`SecretError::Forged`], one from before owners
    /// were bound with [`SecretError::Unbound`].
    pub fn decrypt(
        &self,
        field: Field,
        env: &str,
        owner: Owner<'_>,
        stored: &str,
    ) -> Result<String, SecretError> {
        // Under the read lock rather than on a clone of the keyring's `Arc`: every token of every
        // read comes through here, and the clone's two atomic updates of one shared counter were
        // contended between the runtime's threads.
        let opened = self.read().keyring.open_owned(field, env, owner, stored);
        let bytes = match opened {
            Err(SecretError::UnknownKey(id)) if self.reload_for(&id) => {
                self.keyring().open_owned(field, env, owner, stored)?
            }
            other => other?,
        };
        String::from_utf8(bytes.to_vec()).map_err(|_| SecretError::NotText)
    }

    pub fn encrypt_opt(
        &self,
        field: Field,
        env: &str,
        owner: Owner<'_>,
        v: Option<&str>,
    ) -> Result<Option<String>, SecretError> {
        v.map(|v| self.encrypt(field, env, owner, v)).transpose()
    }

    pub fn decrypt_opt(
        &self,
        field: Field,
        env: &str,
        owner: Owner<'_>,
        v: Option<&str>,
    ) -> Result<Option<String>, SecretError> {
        v.map(|v| self.decrypt(field, env, owner, v)).transpose()
    }

    /// Decrypts and encrypts again under the current key (rotation).
    pub fn reencrypt(
        &self,
        field: Field,
        env: &str,
        owner: Owner<'_>,
        stored: &str,
    ) -> Result<String, SecretError> {
        self.encrypt(field, env, owner, &self.decrypt(field, env, owner, stored)?)
    }

    /// A value from before schema version 5 (bound to its field and environment only), encrypted
    /// again under the current key and bound to `owner`; `None` if it already is owner-bound.
    /// Only the stores' one-time upgrade calls this: anywhere else, such a value is refused.
    pub fn bind_to_owner(
        &self,
        field: Field,
        env: &str,
        owner: Owner<'_>,
        stored: &str,
    ) -> Result<Option<String>, SecretError> {
        if is_owner_bound(stored) {
            return Ok(None);
        }
        let keyring = self.keyring();
        let bytes = match keyring.open(field, env, stored) {
            Err(SecretError::UnknownKey(id)) if self.reload_for(&id) => {
                self.keyring().open(field, env, stored)?
            }
            other => other?,
        };
        let plain = String::from_utf8(bytes.to_vec()).map_err(|_| SecretError::NotText)?;
        self.encrypt(field, env, owner, &plain).map(Some)
    }

    /// Whether a stored value is owner-bound and under the current key (rotation leaves it).
    pub fn is_current(&self, stored: &str) -> bool {
        is_owner_bound(stored) && key_id_of(stored).is_some_and(|id| id == self.read().sealing)
    }

    /// The seven channel text columns, encrypted (in [`Field::CHANNEL_TEXT`] order) and bound to
    /// the channel's `owner`.
    pub fn seal_channel(
        &self,
        env: &str,
        owner: Owner<'_>,
        c: &ChannelCredentials,
    ) -> Result<[Option<String>; 7], SecretError> {
        let mut out: [Option<String>; 7] = Default::default();
        for (slot, (field, (_, value))) in out
            .iter_mut()
            .zip(Field::CHANNEL_TEXT.iter().zip(c.text_fields()))
        {
            *slot = self.encrypt_opt(*field, env, owner, value.as_deref())?;
        }
        Ok(out)
    }

    /// Credentials (without tokens) from the seven encrypted channel text columns of `owner`.
    pub fn open_channel(
        &self,
        env: &str,
        owner: Owner<'_>,
        columns: [Option<String>; 7],
    ) -> Result<ChannelCredentials, SecretError> {
        let [webhook_url, channel, alert_uid, title, image_url, state, external_url] = columns;
        let open = |field, v: Option<String>| self.decrypt_opt(field, env, owner, v.as_deref());
        Ok(ChannelCredentials {
            webhook_url: open(Field::WebhookUrl, webhook_url)?,
            channel: open(Field::Channel, channel)?,
            alert_uid: open(Field::AlertUid, alert_uid)?,
            title: open(Field::Title, title)?,
            image_url: open(Field::ImageUrl, image_url)?,
            state: open(Field::State, state)?,
            external_url: open(Field::ExternalUrl, external_url)?,
            device_tokens: None,
        })
    }

    /// A device token of the channel `owner` as stored: `(ciphertext, lookup hash)`. The hash
    /// depends on the environment only, so "who holds this token" stays one lookup.
    pub fn seal_token(
        &self,
        env: &str,
        owner: Owner<'_>,
        token: &str,
    ) -> Result<(String, String), SecretError> {
        Ok((
            self.encrypt(Field::DeviceToken, env, owner, token)?,
            self.token_hash(env, token),
        ))
    }

    pub fn open_token(
        &self,
        env: &str,
        owner: Owner<'_>,
        stored: &str,
    ) -> Result<String, SecretError> {
        self.decrypt(Field::DeviceToken, env, owner, stored)
    }

    pub fn token_hash(&self, env: &str, token: &str) -> String {
        self.hash_key.token_hash(env, token)
    }

    /// The credentials object of integration `integration` (its `_id`), encrypted as JSON text.
    pub fn seal_credentials(
        &self,
        env: &str,
        integration: &str,
        credentials: &Map<String, Value>,
    ) -> Result<String, SecretError> {
        let json = zeroize::Zeroizing::new(Value::Object(credentials.clone()).to_string());
        self.encrypt(
            Field::IntegrationCredentials,
            env,
            Owner::Integration(integration),
            &json,
        )
    }

    pub fn open_credentials(
        &self,
        env: &str,
        integration: &str,
        stored: &str,
    ) -> Result<Map<String, Value>, SecretError> {
        let json = zeroize::Zeroizing::new(self.decrypt(
            Field::IntegrationCredentials,
            env,
            Owner::Integration(integration),
            stored,
        )?);
        serde_json::from_str(&json).map_err(|_| SecretError::NotText)
    }

    /// The hash key wrapped under key `id` of the keyring, for registering that key.
    pub fn wrap_hash_key(&self, id: &KeyId) -> Result<String, SecretError> {
        self.keyring()
            .seal(id, Field::HashKey, "", self.hash_key.as_bytes())
    }

    /// Whether it is time to ask the database for its current key; if so, the caller does and
    /// reports it with [`Vault::observe_current`]. Answers `true` to one caller per period.
    pub fn current_check_due(&self) -> bool {
        let mut last = self
            .last_check
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let due = match *last {
            None => true,
            Some(t) => t.elapsed() >= self.check_every,
        };
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// The database's current key is `id`: encrypt under it from now on, if this process holds
    /// it (re-reading the key file if needed). Returns whether the vault now seals with `id`.
    pub fn observe_current(&self, id: &KeyId) -> bool {
        if self.read().sealing == *id {
            return true;
        }
        if !self.keyring().contains(id) && !self.reload_for(id) {
            tracing::warn!(
                current = %id,
                sealing = %self.sealing_id(),
                "the database encrypts with a key this process does not hold; add it to HERALD_SECRET_KEY"
            );
            return false;
        }
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if state.keyring.contains(id) {
            tracing::info!(from = %state.sealing, to = %id, "encrypting new values under the database's current key");
            state.sealing = id.clone();
            return true;
        }
        false
    }

    /// Re-reads the keys (at most once per [`RELOAD_EVERY`]) and returns whether `id` is now
    /// held. The vault's current key stays as it is.
    fn reload_for(&self, id: &KeyId) -> bool {
        let Some(reload) = &self.reload else {
            return false;
        };
        {
            let mut last = self
                .last_reload
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < RELOAD_EVERY) {
                return self.keyring().contains(id);
            }
            *last = Some(Instant::now());
        }
        match reload() {
            Ok(fresh) => {
                let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
                // Keys are only ever added in memory: values under a key dropped from the file
                // stay readable until this process restarts.
                let mut keys = fresh.keys().to_vec();
                keys.extend(state.keyring.keys().iter().cloned());
                if let Ok(merged) = Keyring::new(keys) {
                    tracing::info!(keys = ?merged.ids(), "re-read the secret keys");
                    state.keyring = Arc::new(merged);
                }
                state.keyring.contains(id)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot re-read the secret keys");
                false
            }
        }
    }
}
