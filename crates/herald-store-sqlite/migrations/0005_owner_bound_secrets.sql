-- Herald SQLite schema, version 5: every stored secret bound to its owner. The PostgreSQL store's
-- 0005_owner_bound_secrets.sql makes the same change. Never edit this file once released: add
-- 0006_….sql.
--
-- The secret columns keep their names and types. From now on they hold `hv2:` ciphertexts whose
-- authenticated data names their owner as well as their field and environment (herald_core::
-- secrets::Owner): a channel's text fields and device tokens belong to the subscriber's `_id` and
-- the channel's integration `_id`, integration credentials to the integration's `_id`. A value
-- copied to another subscriber, channel or integration then fails to decrypt; with `hv1:` values,
-- bound to field and environment only, it did not.
--
-- The store rewrites the `hv1:` values written before this version right after this file, in the
-- same transaction, and records here that it did, so that it happens exactly once: afterwards an
-- `hv1:` value in those columns is refused, never rewritten (rewriting one planted later would bind
-- it to wherever it was planted).
CREATE TABLE secret_upgrades (
    name       TEXT PRIMARY KEY NOT NULL,
    -- When the upgrade ran; NULL until then.
    applied_at INTEGER NULL
);
INSERT INTO secret_upgrades (name, applied_at) VALUES ('owner-bound', NULL);
