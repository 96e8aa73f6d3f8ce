-- Herald PostgreSQL schema, version 3: a topic subscription has its own identifier, unique within
-- its topic, and an optional name. Same version number and index name as the SQLite store's 0003.
-- Never edit this file once released.

ALTER TABLE topic_subscriptions
    ADD COLUMN identifier TEXT NULL,
    ADD COLUMN name TEXT NULL;

-- Existing subscriptions keep the identifier Herald has been showing for them:
-- `<topic key>:<subscriber id>`. One subscriber row per (environment, subscriber id) and one
-- membership per (topic, subscriber) make these unique per topic.
UPDATE topic_subscriptions ts
SET identifier = t.key || ':' || s.subscriber_id
FROM topics t, subscribers s
WHERE t.pk = ts.topic_pk AND s.pk = ts.subscriber_pk;

ALTER TABLE topic_subscriptions ALTER COLUMN identifier SET NOT NULL;

-- Lookup by identifier (`GET /v2/topics/{key}/subscriptions/{identifier}`) and its uniqueness;
-- `add_topic_subscribers` relies on it through `ON CONFLICT DO NOTHING`.
CREATE UNIQUE INDEX topic_subscriptions_identifier ON topic_subscriptions (topic_pk, identifier);
