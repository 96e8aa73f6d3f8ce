-- Herald SQLite schema, version 2: topics and their subscriptions. The PostgreSQL store's
-- 0002_topics.sql creates the same tables. Never edit this file once released: add 0003_….sql.

-- `pk` is the creation sequence: v1 lists and v2 cursors are ordered by it. `data` is JSON text.
CREATE TABLE topics (
    pk              INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    key             TEXT NOT NULL,
    name            TEXT NULL,
    data            TEXT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (environment_id, key)
);

-- Listing walks this index in rowid (= pk) order, so paging needs no sort.
CREATE INDEX topics_by_environment ON topics (environment_id);

-- One row per (topic, subscriber); hard deletes. Both parents cascade: deleting a topic drops its
-- memberships, and so does replacing a soft-deleted subscriber row (the soft delete itself drops
-- them explicitly). `pk` is the membership order clients see.
CREATE TABLE topic_subscriptions (
    pk             INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    environment_id TEXT NOT NULL,
    topic_pk       INTEGER NOT NULL REFERENCES topics (pk) ON DELETE CASCADE,
    subscriber_pk  INTEGER NOT NULL REFERENCES subscribers (pk) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (topic_pk, subscriber_pk)
);

-- A topic's members and a subscriber's topics, each walked in pk order (the implicit rowid
-- suffix of a one-column index), which is the order of both cursor lists.
CREATE INDEX topic_subscriptions_by_topic ON topic_subscriptions (topic_pk);
CREATE INDEX topic_subscriptions_by_subscriber ON topic_subscriptions (subscriber_pk);
