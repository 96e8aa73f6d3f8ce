-- Herald SQLite schema, version 7: the delivery pipeline. An accepted trigger is an `events` row
-- (with a snapshot of the workflow's active steps), reaching each subscriber as a `notifications`
-- row with one `jobs` row per step; topics and broadcasts are expanded page by page from
-- `fan_outs` cursors. A job's run records `messages` (one per subscriber channel), their
-- `deliveries` (one per target: a chat channel, a push device token) and `execution_details`.
-- Targets are referenced by their integration (chat) or token hash (push): no secret is copied here.

CREATE TABLE events (
    pk              INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    environment_id  TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    transaction_id  TEXT NOT NULL,
    workflow_id     TEXT NOT NULL,
    workflow_identifier TEXT NOT NULL,
    workflow_name   TEXT NOT NULL,
    -- JSON: herald_core::delivery::event::WorkflowSnapshot
    workflow        TEXT NOT NULL,
    payload         TEXT NOT NULL,
    overrides       TEXT NOT NULL,
    actor           TEXT NULL,
    tenant          TEXT NULL,
    -- JSON array of subscriber ids never reached through a topic or broadcast (the actor)
    fan_out_exclude TEXT NOT NULL DEFAULT '[]',
    canceled        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    UNIQUE (environment_id, transaction_id)
);

-- A topic (`topic_key`) or the whole environment (NULL) still to be expanded; `last_pk` is the
-- last topic_subscriptions.pk (topic) or subscribers.pk (broadcast) expanded.
CREATE TABLE fan_outs (
    pk        INTEGER PRIMARY KEY,
    event_pk  INTEGER NOT NULL REFERENCES events (pk) ON DELETE CASCADE,
    topic_key TEXT NULL,
    exclude   TEXT NOT NULL DEFAULT '[]',
    last_pk   INTEGER NOT NULL DEFAULT 0,
    done      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX fan_outs_pending ON fan_outs (pk) WHERE done = 0;

-- One per (event, subscriber): nothing reaches a subscriber twice through one event.
CREATE TABLE notifications (
    pk             INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    event_pk       INTEGER NOT NULL REFERENCES events (pk) ON DELETE CASCADE,
    environment_id TEXT NOT NULL,
    subscriber_pk  INTEGER NOT NULL,
    -- the subscriber's `_id` and `subscriberId`, kept for the activity feed
    subscriber_ref TEXT NOT NULL,
    subscriber_id  TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (event_pk, subscriber_pk)
);
CREATE INDEX notifications_by_environment ON notifications (environment_id, pk);
CREATE INDEX notifications_by_subscriber ON notifications (environment_id, subscriber_id);

-- One per (notification, step). `queued` jobs are due at `run_at`; `running` ones are held by
-- `lease_owner` until `lease_until`, after which they are due again (a crashed worker).
CREATE TABLE jobs (
    pk              INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    notification_pk INTEGER NOT NULL REFERENCES notifications (pk) ON DELETE CASCADE,
    environment_id  TEXT NOT NULL,
    step_index      INTEGER NOT NULL,
    -- the step's `_id`
    step_id         TEXT NOT NULL,
    channel         TEXT NOT NULL,
    status          TEXT NOT NULL,
    run_at          INTEGER NOT NULL,
    runs            INTEGER NOT NULL DEFAULT 0,
    lease_owner     TEXT NULL,
    lease_until     INTEGER NULL,
    provider_id     TEXT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (notification_pk, step_index)
);
CREATE INDEX jobs_queued ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_running ON jobs (lease_until) WHERE status = 'running';

CREATE TABLE messages (
    pk             INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    job_pk         INTEGER NOT NULL REFERENCES jobs (pk) ON DELETE CASCADE,
    environment_id TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    subscriber_id  TEXT NOT NULL,
    channel        TEXT NOT NULL,
    provider_id    TEXT NOT NULL,
    integration_id TEXT NOT NULL,
    content        TEXT NOT NULL,
    title          TEXT NULL,
    webhook_hint   TEXT NULL,
    -- JSON array of device-token hints
    device_tokens  TEXT NOT NULL DEFAULT '[]',
    overrides      TEXT NOT NULL DEFAULT '{}',
    status         TEXT NOT NULL,
    error_id       TEXT NULL,
    error_text     TEXT NULL,
    deleted        INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX messages_by_environment ON messages (environment_id, pk);
CREATE INDEX messages_by_transaction ON messages (environment_id, transaction_id);
CREATE INDEX messages_by_subscriber ON messages (environment_id, subscriber_id);
CREATE INDEX messages_by_job ON messages (job_pk);

CREATE TABLE deliveries (
    pk                  INTEGER PRIMARY KEY,
    id                  TEXT NOT NULL UNIQUE,
    message_pk          INTEGER NOT NULL REFERENCES messages (pk) ON DELETE CASCADE,
    -- the channel's integration id (chat) or the device token's lookup hash (push)
    target              TEXT NOT NULL,
    target_hint         TEXT NOT NULL,
    status              TEXT NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    outcome             TEXT NULL,
    http_status         INTEGER NULL,
    provider_code       TEXT NULL,
    provider_message_id TEXT NULL,
    detail              TEXT NULL,
    -- when to ask for this delivery's receipt (Expo), NULL when there is none to ask for
    receipt_due_at      INTEGER NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX deliveries_by_message ON deliveries (message_pk);
CREATE INDEX deliveries_receipts ON deliveries (receipt_due_at) WHERE receipt_due_at IS NOT NULL;

CREATE TABLE execution_details (
    pk          INTEGER PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    job_pk      INTEGER NOT NULL REFERENCES jobs (pk) ON DELETE CASCADE,
    message_id  TEXT NULL,
    provider_id TEXT NULL,
    detail      TEXT NOT NULL,
    source      TEXT NOT NULL,
    status      TEXT NOT NULL,
    is_retry    INTEGER NOT NULL DEFAULT 0,
    raw         TEXT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX execution_details_by_job ON execution_details (job_pk);

-- The answer given to a request with an Idempotency-Key, replayed for 24 hours.
CREATE TABLE idempotency_keys (
    environment_id TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    status         INTEGER NOT NULL,
    body           TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (environment_id, key)
) WITHOUT ROWID;
