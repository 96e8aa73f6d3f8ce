-- Herald SQLite schema, version 8: device tokens stored by channel, in one b-tree. The PostgreSQL
-- store's 0008 is the same version number for its own layout. Never edit this file once released:
-- add 0009_….sql.
--
-- Until version 7 a token was a row of a table keyed by an AUTOINCREMENT `pk` plus two indexes,
-- `(channel_pk, token_hash)` and `(environment_id, integration_id, token_hash)`: a credentials
-- write dirtied a page in each of them, one in `sqlite_sequence`, and the subscriber's row, in
-- random places (issue 13's profile). Now the row id itself says where a token belongs:
--
--     pk = channel_pk * 2^32 + position
--
-- with `position` counting up from 1 in insertion order within the channel (the order clients
-- see). A channel's tokens are then neighbours in the table, read and replaced as one range of
-- row ids (`pk BETWEEN channel_pk * 2^32 AND channel_pk * 2^32 + 2^32 - 1`), with no index of
-- their own, and a write touches the channel's page, the lookup index below and the subscriber.
-- The store keeps a channel's tokens distinct (the merge runs on their hashes, inside the single
-- writer), which the unique index used to enforce on its own. `pk` stays unique, so every other
-- statement that names a token by `pk` is unchanged.
CREATE TABLE device_tokens_v8 (
    pk             INTEGER PRIMARY KEY,
    channel_pk     INTEGER NOT NULL,
    environment_id TEXT NOT NULL,
    subscriber_pk  INTEGER NOT NULL,
    integration_id TEXT NOT NULL,
    token          TEXT NOT NULL,
    -- HMAC-SHA256 of the token under the database's hash key (hex); NULL only while a database
    -- from before version 4 is being encrypted, in the transaction that runs this file.
    token_hash     TEXT NULL
);
INSERT INTO device_tokens_v8
    (pk, channel_pk, environment_id, subscriber_pk, integration_id, token, token_hash)
SELECT channel_pk * 4294967296 + row_number() OVER (PARTITION BY channel_pk ORDER BY pk),
       channel_pk, environment_id, subscriber_pk, integration_id, token, token_hash
FROM device_tokens;
DROP TABLE device_tokens;
ALTER TABLE device_tokens_v8 RENAME TO device_tokens;

-- "Who holds this token" is one indexed lookup of its hash (also how a subscriber's token is
-- found by value: its environment, integration and hash).
CREATE INDEX device_tokens_by_token ON device_tokens (environment_id, integration_id, token_hash);

-- The channel's tokens go with it (the foreign key's ON DELETE CASCADE did this, through an index
-- on `channel_pk` that no longer exists). Also fires for channels removed by the cascade from a
-- deleted subscriber.
CREATE TRIGGER device_tokens_of_deleted_channel AFTER DELETE ON subscriber_channels
BEGIN
    DELETE FROM device_tokens
    WHERE pk BETWEEN old.pk * 4294967296 AND old.pk * 4294967296 + 4294967295;
END;
