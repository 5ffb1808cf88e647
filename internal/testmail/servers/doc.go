// Package servers runs, for tests, mail servers that Debian packages but
// that cannot be installed beside Dovecot (their packages conflict with
// Dovecot's): .ci/servers unpacks them, with the libraries they need that
// the machine lacks, into a private root (MAILTASK_SERVERS, by default
// /opt/mailtask-servers), and the subpackages run them from there on
// loopback ports, from a temporary directory, started and stopped by the
// tests. Package mailutils runs GNU Mailutils' imap4d and pop3d.
//
// Without the root, tests skip with a message naming .ci/servers, except
// under CI=true, where they fail: CI must not pass by skipping.
package servers
