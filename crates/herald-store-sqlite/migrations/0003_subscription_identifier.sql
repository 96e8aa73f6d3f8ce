-- Herald SQLite schema, version 3: a topic subscription has its own identifier, unique within its
-- topic, and an optional name. The PostgreSQL store's 0003_subscription_identifier.sql makes the
-- same change. Never edit this file once released: add 0004_….sql.

-- ADD COLUMN rather than rebuilding the table: a rebuild would have to carry the AUTOINCREMENT
-- sequence over by hand. SQLite adds a NOT NULL column only with a default; the store always
-- writes the identifier, and the backfill below replaces the default on every existing row.
ALTER TABLE topic_subscriptions ADD COLUMN identifier TEXT NOT NULL DEFAULT '';
ALTER TABLE topic_subscriptions ADD COLUMN name TEXT NULL;

-- Existing subscriptions keep the identifier Herald has been showing for them:
-- `<topic key>:<subscriber id>`. One subscriber row per (environment, subscriber id) and one
-- membership per (topic, subscriber) make these unique per topic.
UPDATE topic_subscriptions
SET identifier = (
    SELECT t.key || ':' || s.subscriber_id
    FROM topics t, subscribers s
    WHERE t.pk = topic_subscriptions.topic_pk AND s.pk = topic_subscriptions.subscriber_pk
);

-- Lookup by identifier (`GET /v2/topics/{key}/subscriptions/{identifier}`) and its uniqueness.
CREATE UNIQUE INDEX topic_subscriptions_identifier ON topic_subscriptions (topic_pk, identifier);
