-- [notify] in cluster mode (pgstore's alerts.go). A node's state_dir is
-- scratch there, so what has been mailed about a task's failure going on
-- is kept here, one row per failing task, gone once the task recovers
-- (the recovery mailed) or its state is reset; and each digest is sent by
-- one node of the cluster, the one whose row for its scheduled time went
-- in first.
--
-- An alert row is changed under a transaction-scoped advisory lock of its
-- task, held while the mail about it is sent, so that two nodes ending
-- runs of the same task at once decide in turn.
CREATE TABLE alerts (
	task      text PRIMARY KEY,
	class     text NOT NULL,        -- the failure's kind: its hint, or its message without numbers
	since     timestamptz NOT NULL, -- its first failed run
	failures  integer NOT NULL,
	mailed    integer NOT NULL,
	last_mail timestamptz NOT NULL
);

-- A digest's scheduled time, claimed by the node that sends it; the
-- database's clock says when.
CREATE TABLE digests (
	due        timestamptz PRIMARY KEY,
	node       text NOT NULL,
	claimed_at timestamptz NOT NULL DEFAULT now()
);
