-- Herald PostgreSQL schema, version 1. The SQLite store uses the same version numbers, table names
-- and index names. Timestamps are BIGINT milliseconds since the Unix epoch; ids are 24-hex TEXT.
-- Never edit this file once released: add 0002_….sql instead.

CREATE TABLE organizations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE environments (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    UNIQUE (organization_id, name)
);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    environment_id TEXT NOT NULL REFERENCES environments (id),
    key_hash       TEXT NOT NULL UNIQUE,
    hint           TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT NULL
);

-- `pk` is the insertion sequence: lists are ordered by it. `null_mask` has one bit per profile
-- field that is explicitly null (see herald_core::Profile::null_mask), so that "never set" and
-- "set to null" both survive in the nullable text columns.
CREATE TABLE subscribers (
    pk              BIGSERIAL PRIMARY KEY,
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
    null_mask       BIGINT NOT NULL DEFAULT 0,
    is_online       BOOLEAN NULL,
    last_online_at  BIGINT NULL,
    deleted         BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at      BIGINT NULL,
    version         BIGINT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (environment_id, subscriber_id)
);

-- Listing a page walks this index in pk order, so no sort is needed.
CREATE INDEX subscribers_by_environment ON subscribers (environment_id, pk) WHERE NOT deleted;

CREATE TABLE integrations (
    pk              BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    provider_id     TEXT NOT NULL,
    channel         TEXT NOT NULL,
    name            TEXT NOT NULL,
    identifier      TEXT NOT NULL,
    credentials     TEXT NOT NULL DEFAULT '{}',
    active          BOOLEAN NOT NULL DEFAULT FALSE,
    "primary"       BOOLEAN NOT NULL DEFAULT FALSE,
    priority        BIGINT NOT NULL DEFAULT 0,
    conditions      TEXT NOT NULL DEFAULT '[]',
    deleted         BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at      BIGINT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- The store maps a violation of this index (SQLSTATE 23505) to `StoreError::Conflict`.
CREATE UNIQUE INDEX integrations_identifier_unique
    ON integrations (environment_id, identifier) WHERE NOT deleted;
CREATE INDEX integrations_by_provider ON integrations (environment_id, provider_id);

-- One row per (subscriber, integration); `pk` keeps the channels in insertion order.
-- `tokens_set` records whether the `deviceTokens` key exists at all (an empty list is not absent).
CREATE TABLE subscriber_channels (
    pk             BIGSERIAL PRIMARY KEY,
    subscriber_pk  BIGINT NOT NULL REFERENCES subscribers (pk) ON DELETE CASCADE,
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
    tokens_set     BOOLEAN NOT NULL DEFAULT FALSE,
    UNIQUE (subscriber_pk, integration_id)
);

-- Device tokens are rows, so an append is INSERT … ON CONFLICT DO NOTHING and concurrent appends
-- never lose one; `pk` keeps them in insertion order.
CREATE TABLE device_tokens (
    pk             BIGSERIAL PRIMARY KEY,
    channel_pk     BIGINT NOT NULL REFERENCES subscriber_channels (pk) ON DELETE CASCADE,
    environment_id TEXT NOT NULL,
    subscriber_pk  BIGINT NOT NULL,
    integration_id TEXT NOT NULL,
    token          TEXT NOT NULL,
    UNIQUE (channel_pk, token)
);

-- "Who holds this token" is one indexed lookup.
CREATE INDEX device_tokens_by_token ON device_tokens (environment_id, integration_id, token);
