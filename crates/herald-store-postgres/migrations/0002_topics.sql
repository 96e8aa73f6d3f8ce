-- Herald PostgreSQL schema, version 2: topics and their subscriptions. Same version number, table
-- names and index names as the SQLite store's 0002. Never edit this file once released.

-- `pk` is the insertion sequence: lists and cursors are ordered by it. `data` is JSON text.
CREATE TABLE topics (
    pk              BIGSERIAL PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    key             TEXT NOT NULL,
    name            TEXT NULL,
    data            TEXT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    -- `upsert_topic` and `add_topic_subscribers` rely on this key for INSERT … ON CONFLICT.
    UNIQUE (environment_id, key)
);

-- Listing an environment's topics walks this index in pk order (SQLite's index of this name ends
-- in the rowid implicitly).
CREATE INDEX topics_by_environment ON topics (environment_id, pk);

-- One row per (topic, subscriber). Deleting a topic or a subscriber row removes its memberships;
-- a soft delete of a subscriber removes them explicitly.
CREATE TABLE topic_subscriptions (
    pk             BIGSERIAL PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    environment_id TEXT NOT NULL,
    topic_pk       BIGINT NOT NULL REFERENCES topics (pk) ON DELETE CASCADE,
    subscriber_pk  BIGINT NOT NULL REFERENCES subscribers (pk) ON DELETE CASCADE,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (topic_pk, subscriber_pk)
);

-- A topic's members in pk order (the order of its cursor list), and a subscriber's memberships
-- (also what the cascade from `subscribers` looks up). SQLite's indexes of the same names get the
-- pk suffix implicitly (rowid); PostgreSQL needs it spelled out.
CREATE INDEX topic_subscriptions_by_topic ON topic_subscriptions (topic_pk, pk);
CREATE INDEX topic_subscriptions_by_subscriber ON topic_subscriptions (subscriber_pk, pk);
