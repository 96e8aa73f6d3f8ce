-- Herald SQLite schema, version 4: encryption at rest. The PostgreSQL store's 0004_secrets.sql makes
-- the same change. Never edit this file once released: add 0005_….sql.
--
-- The secret columns keep their names and types, but from now on hold `hv1:…` ciphertexts
-- (herald_core::secrets): subscriber_channels' seven text columns, device_tokens.token and
-- integrations.credentials. The store encrypts the rows written before this version in the same
-- transaction, right after this file, when it registers the first key in `secret_keys`.

-- Device tokens: ciphertexts are randomised, so uniqueness and lookups move to a keyed hash of
-- the token. SQLite cannot drop the old UNIQUE (channel_pk, token) in place: rebuild the table,
-- keeping every row and its pk (the order clients see).
CREATE TABLE device_tokens_v3 (
    pk             INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_pk     INTEGER NOT NULL REFERENCES subscriber_channels (pk) ON DELETE CASCADE,
    environment_id TEXT NOT NULL,
    subscriber_pk  INTEGER NOT NULL,
    integration_id TEXT NOT NULL,
    token          TEXT NOT NULL,
    -- HMAC-SHA256 of the token under the database's hash key (hex). NULL only between this file
    -- and the encryption of the existing rows, in the same transaction.
    token_hash     TEXT NULL
);
INSERT INTO device_tokens_v3 (pk, channel_pk, environment_id, subscriber_pk, integration_id, token)
    SELECT pk, channel_pk, environment_id, subscriber_pk, integration_id, token FROM device_tokens;
DROP TABLE device_tokens;
ALTER TABLE device_tokens_v3 RENAME TO device_tokens;

-- An append is INSERT OR IGNORE against this index, so concurrent appends never lose a token.
CREATE UNIQUE INDEX device_tokens_unique ON device_tokens (channel_pk, token_hash);
-- "Who holds this token" is one indexed lookup of its hash.
CREATE INDEX device_tokens_by_token ON device_tokens (environment_id, integration_id, token_hash);

-- The keys that can open this database: one row per key id, holding the token hash key wrapped
-- (encrypted) under that key. Opening the store unwraps it, which proves the key is right before
-- anything is decrypted. `current` marks the one key new values are encrypted under.
CREATE TABLE secret_keys (
    key_id           TEXT PRIMARY KEY NOT NULL,
    wrapped_hash_key TEXT NOT NULL,
    current          INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX secret_keys_one_current ON secret_keys (current) WHERE current = 1;
