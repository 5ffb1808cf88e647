// Package servers runs, for tests, mail servers that Debian packages but
// that cannot be installed beside Dovecot (their packages conflict with
// Dovecot's, or would install system services): .ci/servers unpacks them,
// with the libraries they need that the machine lacks, into a private root
// (MAILTASK_SERVERS, by default /opt/mailtask-servers), and the subpackages
// run them from there on loopback ports, from a temporary directory,
// started and stopped by the tests. Package mailutils runs GNU Mailutils'
// imap4d and pop3d, package courier Courier IMAP and POP3, package cyrus
// Cyrus IMAP's imapd and pop3d, package popa3d popa3d.
//
// Servers that read files at paths compiled into them (Courier's
// /etc/courier, popa3d's /var/mail) run in a private mount namespace
// (Namespace) where those paths are the test's; that needs root.
//
// Without the root, or without root where a namespace is needed, tests
// skip with a message saying what is missing, except under CI=true, where
// they fail: CI must not pass by skipping.
package servers
