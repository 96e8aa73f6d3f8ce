-- Herald SQLite schema, version 1. The PostgreSQL store uses the same version numbers and table
-- names. Timestamps are INTEGER milliseconds since the Unix epoch; ids are 24-hex TEXT.
-- Never edit this file once released: add 0002_….sql instead.

CREATE TABLE organizations (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE environments (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY NOT NULL,
    environment_id TEXT NOT NULL REFERENCES environments (id),
    key_hash       TEXT NOT NULL UNIQUE,
    hint           TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER NULL
);

-- `pk` is the insertion sequence: lists are ordered by it. `null_mask` has one bit per profile
-- field that is explicitly null (see herald_core::Profile::null_mask), so that "never set" and
-- "set to null" both survive in the nullable text columns.
CREATE TABLE subscribers (
    pk              INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    subscriber_id   TEXT NOT NULL,
    first_name      TEXT NULL,
    last_name       TEXT NULL,
    email           TEXT NULL,
    phone           TEXT NULL,
    avatar          TEXT NULL,
    locale          TEXT NULL,
    timezone        TEXT NULL,
    data            TEXT NULL,
    null_mask       INTEGER NOT NULL DEFAULT 0,
    is_online       INTEGER NULL,
    last_online_at  INTEGER NULL,
    deleted         INTEGER NOT NULL DEFAULT 0,
    deleted_at      INTEGER NULL,
    version         INTEGER NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (environment_id, subscriber_id)
);

-- Listing walks this index in rowid (= pk) order, so no sort is needed.
CREATE INDEX subscribers_by_environment ON subscribers (environment_id, deleted);

CREATE TABLE integrations (
    pk              INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    provider_id     TEXT NOT NULL,
    channel         TEXT NOT NULL,
    name            TEXT NOT NULL,
    identifier      TEXT NOT NULL,
    credentials     TEXT NOT NULL DEFAULT '{}',
    active          INTEGER NOT NULL DEFAULT 0,
    "primary"       INTEGER NOT NULL DEFAULT 0,
    priority        INTEGER NOT NULL DEFAULT 0,
    conditions      TEXT NOT NULL DEFAULT '[]',
    deleted         INTEGER NOT NULL DEFAULT 0,
    deleted_at      INTEGER NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE UNIQUE INDEX integrations_identifier_unique
    ON integrations (environment_id, identifier) WHERE deleted = 0;
CREATE INDEX integrations_by_provider ON integrations (environment_id, provider_id);

-- One row per (subscriber, integration); `pk` keeps the channels in insertion order.
-- `tokens_set` records whether the `deviceTokens` key exists at all (an empty list is not absent).
CREATE TABLE subscriber_channels (
    pk             INTEGER PRIMARY KEY AUTOINCREMENT,
    subscriber_pk  INTEGER NOT NULL REFERENCES subscribers (pk) ON DELETE CASCADE,
    environment_id TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    provider_id    TEXT NOT NULL,
    webhook_url    TEXT NULL,
    channel        TEXT NULL,
    alert_uid      TEXT NULL,
    title          TEXT NULL,
    image_url      TEXT NULL,
    state          TEXT NULL,
    external_url   TEXT NULL,
    tokens_set     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (subscriber_pk, integration_id)
);

-- Device tokens are rows, so an append is INSERT OR IGNORE and concurrent appends never lose one;
-- `pk` keeps them in insertion order.
CREATE TABLE device_tokens (
    pk             INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_pk     INTEGER NOT NULL REFERENCES subscriber_channels (pk) ON DELETE CASCADE,
    environment_id TEXT NOT NULL,
    subscriber_pk  INTEGER NOT NULL,
    integration_id TEXT NOT NULL,
    token          TEXT NOT NULL,
    UNIQUE (channel_pk, token)
);

-- "Who holds this token" is one indexed lookup.
CREATE INDEX device_tokens_by_token ON device_tokens (environment_id, integration_id, token);
