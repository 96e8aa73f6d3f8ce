-- Herald PostgreSQL schema, version 6: workflows and notification groups. Same version number,
-- table names and index names as the SQLite store's 0006. Never edit this file once released.

-- One row per group; names are unique per environment (`create_notification_group` relies on
-- this key for INSERT … ON CONFLICT).
CREATE TABLE notification_groups (
    pk              BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (environment_id, name)
);

-- Every existing environment gets its `General` group (new ones get it at bootstrap). The id is
-- 24 hex digits like every other id (gen_random_uuid is built in since PostgreSQL 13).
INSERT INTO notification_groups (id, environment_id, organization_id, name, created_at, updated_at)
SELECT substr(replace(gen_random_uuid()::text, '-', ''), 1, 24), id, organization_id, 'General',
       (extract(epoch FROM clock_timestamp()) * 1000)::bigint,
       (extract(epoch FROM clock_timestamp()) * 1000)::bigint
FROM environments;

-- `pk` is the creation sequence (the tie-breaker of every list order). `tags`, `steps` and
-- `details` are JSON texts in the format of herald_core::workflow::stored; `origin` is `v1` or
-- `v2`. Deletes are soft: a deleted row keeps its identifier but no longer holds it.
CREATE TABLE workflows (
    pk              BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    identifier      TEXT NOT NULL,
    name            TEXT NOT NULL,
    origin          TEXT NOT NULL,
    active          BOOLEAN NOT NULL,
    critical        BOOLEAN NOT NULL,
    tags            TEXT NOT NULL DEFAULT '[]',
    steps           TEXT NOT NULL DEFAULT '[]',
    details         TEXT NOT NULL DEFAULT '{}',
    deleted         BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at      BIGINT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- The trigger's lookup, and the rule that one identifier names one live workflow. The store maps
-- a violation of this index (SQLSTATE 23505) to `StoreError::Conflict`.
CREATE UNIQUE INDEX workflows_identifier_unique
    ON workflows (environment_id, identifier) WHERE NOT deleted;
-- Lists walk an environment's live workflows in creation order.
CREATE INDEX workflows_by_environment ON workflows (environment_id, pk) WHERE NOT deleted;
