-- Cluster mode: leases, task state, ledger, UIDLs, run history, tokens,
-- connection slots and the object sink's dedupe index. Times that decide
-- who holds what (lease_until) are the database's clock, never a node's.

-- One row per task: who holds its lease, until when, and when it is due.
-- epoch grows by one on every claim; a commit names the epoch it holds.
CREATE TABLE tasks (
	task         text PRIMARY KEY,
	holder       text,
	epoch        bigint NOT NULL DEFAULT 0,
	lease_until  timestamptz,
	claimed_at   timestamptz,
	next_due     timestamptz NOT NULL DEFAULT now(),
	committed_at timestamptz
);
CREATE INDEX tasks_next_due ON tasks (next_due);

-- What the file store keeps in <task>.json, but the POP3 UIDLs.
CREATE TABLE task_state (
	task                 text PRIMARY KEY,
	uid_validity         bigint NOT NULL DEFAULT 0,
	done_uids            text NOT NULL DEFAULT '',
	pending_uids         text NOT NULL DEFAULT '',
	pending_uidls        text[] NOT NULL DEFAULT '{}',
	pending_failed_uids  text NOT NULL DEFAULT '',
	pending_failed_uidls text[] NOT NULL DEFAULT '{}',
	failed               jsonb NOT NULL DEFAULT '[]',
	last_run             jsonb,
	last_success         jsonb,
	updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Fingerprints (the first 8 bytes of a raw message's SHA-256, big-endian)
-- of the messages each task has taken.
CREATE TABLE ledger (
	task text NOT NULL,
	fp   bigint NOT NULL,
	PRIMARY KEY (task, fp)
);

-- POP3 UIDLs taken, hashed as in the file store, with the day each went
-- missing from the server's listing (0 while listed).
CREATE TABLE uidls (
	task        text NOT NULL,
	hash        bigint NOT NULL,
	missing_day integer NOT NULL DEFAULT 0,
	PRIMARY KEY (task, hash)
);

-- Every run, by whichever node ran it.
CREATE TABLE runs (
	id          bigserial PRIMARY KEY,
	task        text NOT NULL,
	node        text NOT NULL,
	epoch       bigint NOT NULL,
	started     timestamptz NOT NULL,
	duration_ms bigint NOT NULL,
	outcome     text NOT NULL,
	error       text NOT NULL DEFAULT '',
	hint        text NOT NULL DEFAULT '',
	seen        integer NOT NULL DEFAULT 0,
	matched     integer NOT NULL DEFAULT 0,
	saved       integer NOT NULL DEFAULT 0,
	failed      integer NOT NULL DEFAULT 0,
	files       integer NOT NULL DEFAULT 0,
	bytes       bigint NOT NULL DEFAULT 0,
	recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runs_task ON runs (task, id DESC);

-- OAuth2 token records per account, sealed with the token key (AES-GCM).
CREATE TABLE oauth_tokens (
	account    text PRIMARY KEY,
	sealed     bytea,
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- App-only (client credentials) tokens, shared by every mailbox of one
-- app in one tenant for one set of scopes; sealed like oauth_tokens.
CREATE TABLE app_tokens (
	tenant     text NOT NULL,
	client_id  text NOT NULL,
	scopes     text NOT NULL,
	sealed     bytea,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (tenant, client_id, scopes)
);

-- The object sink's dedupe index: which key holds content of a SHA-256,
-- per destination (bucket and prefix).
CREATE TABLE dedupe (
	destination text NOT NULL,
	sha256      bytea NOT NULL,
	key         text NOT NULL,
	PRIMARY KEY (destination, sha256)
);

-- Connections open to each account's mailbox, across the cluster; a
-- slot whose lease ran out (its node died) no longer counts.
CREATE TABLE conn_slots (
	id          bigserial PRIMARY KEY,
	account     text NOT NULL,
	holder      text NOT NULL,
	lease_until timestamptz NOT NULL
);
CREATE INDEX conn_slots_account ON conn_slots (account, lease_until);
