-- A window's budget of mails and the send that keeps failing (pgstore's
-- outbox.go). A window no longer goes to one sender: each sender
-- (a node's minute, a run-task) claims what is left of its budget in
-- turn, so that a script running failing tasks one after the other does
-- not wait a minute for each; and `mailtask status` shows a send that
-- keeps failing, with its error, from here.
-- A window claimed before this migration counts as spent.
ALTER TABLE outbox_window
	ADD COLUMN sent integer NOT NULL DEFAULT 3, -- mails sent in the window
	ADD COLUMN failed_sends integer NOT NULL DEFAULT 0, -- failed in a row, 0 once one went
	ADD COLUMN failing_since timestamptz, -- the window of the first of them
	ADD COLUMN failing_last timestamptz, -- and of the last
	ADD COLUMN send_error text NOT NULL DEFAULT '', -- the last's
	ADD COLUMN send_hint text NOT NULL DEFAULT ''; -- and its hint
ALTER TABLE outbox_window ALTER COLUMN sent SET DEFAULT 0;

-- The one row exists from now on: a window is claimed by updating it.
INSERT INTO outbox_window (start, node) VALUES ('-infinity', '') ON CONFLICT (one) DO NOTHING;
