-- The runs in which the server did not deliver a message it listed, by
-- message key (state.State.Undelivered): without them a message the
-- server never sends would be retried for ever in cluster mode instead
-- of being kept aside after a few runs.
ALTER TABLE task_state
	ADD COLUMN undelivered jsonb NOT NULL DEFAULT '{}';
