-- Herald SQLite schema, version 6: workflows and notification groups. The PostgreSQL store's
-- 0006_workflows.sql creates the same tables. Never edit this file once released.

-- One row per group; names are unique per environment (creating an existing name returns it).
CREATE TABLE notification_groups (
    pk              INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (environment_id, name)
);

-- Every existing environment gets its `General` group (new ones get it at bootstrap).
INSERT INTO notification_groups (id, environment_id, organization_id, name, created_at, updated_at)
SELECT lower(hex(randomblob(12))), id, organization_id, 'General',
       CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER),
       CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
FROM environments;

-- `pk` is the creation sequence (the tie-breaker of every list order). `tags`, `steps` and
-- `details` are JSON texts in the format of herald_core::workflow::stored; `origin` is `v1` or
-- `v2`. Deletes are soft: a deleted row keeps its identifier but no longer holds it.
CREATE TABLE workflows (
    pk              INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    identifier      TEXT NOT NULL,
    name            TEXT NOT NULL,
    origin          TEXT NOT NULL,
    active          INTEGER NOT NULL,
    critical        INTEGER NOT NULL,
    tags            TEXT NOT NULL DEFAULT '[]',
    steps           TEXT NOT NULL DEFAULT '[]',
    details         TEXT NOT NULL DEFAULT '{}',
    deleted         INTEGER NOT NULL DEFAULT 0,
    deleted_at      INTEGER NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- The trigger's lookup, and the rule that one identifier names one live workflow.
CREATE UNIQUE INDEX workflows_identifier_unique
    ON workflows (environment_id, identifier) WHERE deleted = 0;
-- Lists walk an environment's live workflows.
CREATE INDEX workflows_by_environment ON workflows (environment_id, deleted);
