-- [notify]'s mails due (pgstore's outbox.go). A run that finds a mail
-- due about its task (a failure, a reminder, the recovery) records it
-- here, in the transaction that records the task's alert, rather than
-- sending it: once a window one node sends every mail due, one by one
-- when they are few, else as one mail, so that thousands of tasks
-- failing at once make one mail, and an SMTP server that refuses is tried
-- once a window, not by every run of every task. A row goes once its mail
-- was sent.
CREATE TABLE outbox (
	id       bigserial PRIMARY KEY,
	task     text NOT NULL,
	kind     text NOT NULL,        -- failed, still failing, recovered
	at       timestamptz NOT NULL, -- the run's end
	class    text NOT NULL,
	error    text NOT NULL,
	hint     text NOT NULL,
	since    timestamptz NOT NULL,
	failures integer NOT NULL,
	mailed   integer NOT NULL
);

-- The last window in which a node sent the mails due: one row, moved
-- forward by the node that claims the next window; a node's clock behind
-- the others' finds a later window claimed and leaves the mails to it.
CREATE TABLE outbox_window (
	one        boolean PRIMARY KEY DEFAULT true CHECK (one),
	start      timestamptz NOT NULL,
	node       text NOT NULL,
	claimed_at timestamptz NOT NULL DEFAULT now()
);
