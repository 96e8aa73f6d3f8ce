-- Herald PostgreSQL schema, version 4: encryption at rest. Same version number, table and index
-- names as the SQLite store's 0004. Never edit this file once released.
--
-- The secret columns keep their names and types, but from now on hold `hv1:…` ciphertexts
-- (herald_core::secrets): subscriber_channels' seven text columns, device_tokens.token and
-- integrations.credentials. The store encrypts the rows written before this version when it
-- registers the first key in `secret_keys` (one transaction, under an advisory lock).

-- Device tokens: ciphertexts are randomised, so uniqueness and lookups move to a keyed hash of
-- the token (HMAC-SHA256 under the database's hash key, hex). NULL only until the first key is
-- registered, which fills it in the same transaction as it encrypts the tokens.
ALTER TABLE device_tokens ADD COLUMN token_hash TEXT NULL;
ALTER TABLE device_tokens DROP CONSTRAINT device_tokens_channel_pk_token_key;
DROP INDEX device_tokens_by_token;
-- Appends are INSERT … ON CONFLICT (channel_pk, token_hash) DO NOTHING against this index.
CREATE UNIQUE INDEX device_tokens_unique ON device_tokens (channel_pk, token_hash);
-- "Who holds this token" is one indexed lookup of its hash.
CREATE INDEX device_tokens_by_token ON device_tokens (environment_id, integration_id, token_hash);

-- The keys that can open this database: one row per key id, holding the token hash key wrapped
-- (encrypted) under that key. Connecting unwraps it, which proves the key is right before anything
-- is decrypted. `current` marks the one key new values are encrypted under; every Herald process
-- re-reads it every few seconds, so `herald secrets rotate` needs no restart.
CREATE TABLE secret_keys (
    key_id           TEXT PRIMARY KEY,
    wrapped_hash_key TEXT NOT NULL,
    current          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX secret_keys_one_current ON secret_keys (current) WHERE current;
