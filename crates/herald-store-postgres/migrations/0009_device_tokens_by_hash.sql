-- "Who holds this token" is looked up by the token's hash (`token_hash = ANY($n)` with the
-- environment and integration). With the hash as the index's first column that is the index
-- condition whatever the planner's statistics say; with (environment_id, integration_id,
-- token_hash) a table that grew since it was last analyzed got plans that read every token of the
-- integration and filtered them, a few milliseconds of CPU per claiming credentials write.
CREATE INDEX device_tokens_by_hash ON device_tokens (token_hash, integration_id, environment_id);
DROP INDEX device_tokens_by_token;
