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
// Only Dovecot 2.3 configuration syntax is written; other versions skip (or
// fail when CI=true) with a message saying so.
package dovecot
