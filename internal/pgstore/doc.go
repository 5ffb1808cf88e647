// Package pgstore is cluster mode's store: what every node running the
// same configuration shares, in one PostgreSQL database. It holds
//
//   - task leases (leases.go): a node claims due tasks with FOR UPDATE SKIP
//     LOCKED (passing over those it has said it does not run, Skip),
//     holding each for a while measured by the database's clock,
//     under an epoch that grows with every claim; it renews the lease
//     while it runs and releases it with the task's next due time;
//   - task state, ledger and POP3 UIDLs (commit.go, load.go), written only
//     by a fenced commit: one transaction that succeeds only while the
//     committing node still holds the epoch it claimed and the lease has
//     not run out, so that a node paused past its lease (GC, VM freeze,
//     SIGSTOP) and resumed commits nothing (ErrFenced);
//   - run history (runs.go);
//   - OAuth2 tokens per account and app-only tokens per tenant, client and
//     scopes (tokens.go), sealed with AES-GCM under a key given by
//     reference (seal.go), and updated under a row lock, so that a
//     rotating refresh token is spent once across the cluster; a token
//     key's rotation opens them with the previous key too and seals them
//     anew under the current one, as they are updated or all at once
//     (reseal.go);
//   - connection slots per account (slots.go), bounding connections to a
//     mailbox across the cluster, leased so that a dead node's expire;
//   - the object sink's dedupe index (dedupe.go);
//   - what [notify] mailed about each failing task, updated under a lock
//     of the task's alert with the mail it makes due, and the claims of
//     scheduled digests, one node's each, once the database's clock
//     reaches them (alerts.go); the mails due, sent
//     within each window's budget by the nodes claiming it in turn, and
//     the send that keeps failing, for status (outbox.go);
//   - the nodes (nodes.go): each `mailtask run` records its version, the
//     schema it knows and a digest of its configuration as it opens, and
//     its claims mark it as seen, so that `mailtask status` shows which
//     nodes are up, too old for the schema, or configured unlike the
//     others (a rolling upgrade's progress).
//
// The schema is versioned: migrations are embedded (migrations/*.sql),
// applied by `mailtask db migrate` (Migrate), and checked by Open, which
// refuses a schema that is behind (naming the command) or ahead of this
// mailtask.
//
// Times that decide who holds what are the database's (now(),
// clock_timestamp()), never a node's, whose clocks may disagree.
package pgstore
