-- Runs waiting for a connection slot of an account, in the order they
-- began to wait, so that a slot given back goes to the longest waiting
-- rather than to whoever asks first after: a run that polled for it
-- could lose it, every time, to fresh takers (a task due again at once,
-- a run's further connections, an IDLE watcher), which ask the moment
-- they need one (pgstore's AcquireSlot).
--
-- A wait is leased like a slot: one whose node died stops counting once
-- wait_until has passed. Rows come and go only when an account's
-- connections are all in use.
CREATE TABLE conn_slot_waits (
	account    text NOT NULL,
	ticket     bigserial NOT NULL,
	holder     text NOT NULL,
	wait_until timestamptz NOT NULL,
	PRIMARY KEY (account, ticket)
);
