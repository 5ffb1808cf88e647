// Package dovecot runs a real Dovecot for tests: one throwaway instance per
// test (or per package), configured from scratch inside a directory of its
// own (in memory where there is room: child.MkdirTemp), listening on
// loopback ports of its own, with Maildir mailboxes that tests fill and
// inspect directly.
//
// It exists because the in-process servers of package testmail only show
// that mailtask agrees with itself; Dovecot shows it agrees with a server
// that real mailboxes run on. The harness never reads /etc/dovecot and never
// touches the system Dovecot service, so it works as root (CI containers)
// and as an ordinary user alike.
//
// There is no shared instance, unlike the PostgreSQL, mox and versitygw
// harnesses: an instance is cheap. Thirty started, each given one test's
// work (a seeded message, an APPEND, a count) and stopped, cost 2.0 CPU-s
// under -race, against 0.6 for the same work on one instance: about 0.05
// CPU-s an instance, 3 CPU-s for the 69 that make test starts, of some 350.
// A test on an instance of its own sees no other test's mail and can give
// it any configuration.
//
// Only Dovecot 2.3 configuration syntax is written; other versions skip (or
// fail when CI=true) with a message saying so.
package dovecot
