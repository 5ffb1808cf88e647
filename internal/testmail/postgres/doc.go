// Package postgres runs a real PostgreSQL for tests: one throwaway cluster
// per test binary, in a directory of its own (in memory where there is
// room: child.MkdirTemp), listening on a free loopback port (and a unix
// socket inside that directory), with fsync off because a test database
// need not survive a power cut. Each test gets a database of
// its own (NewDatabase), dropped when it ends.
//
// A cluster's data directory is a copy of a template that initdb made
// once per machine, user, PostgreSQL binaries and initdb settings; it
// stays in the temporary directory (mailtask-pg-template-KEY, about
// 40 MB) for the next test binaries, and a lock file beside it makes those
// that start at once wait for one initdb (template.go).
//
// The cluster is Debian's PostgreSQL (package postgresql, binaries under
// /usr/lib/postgresql/N/bin). initdb and postgres refuse to run as root, so
// a root test binary runs them as the postgres user (the credentials are
// set on the child itself, as `runuser -u postgres` would, so that the
// postmaster stays our child and is stopped by its PID); an ordinary user
// runs them as itself. The postmaster gets a parent-death signal, so a test
// binary killed before its cleanup does not leave it running.
//
// Without PostgreSQL the tests that need it skip, or fail when the
// environment says CI=true (as the Dovecot harness does).
//
// For chaos tests a Server can cut the connections of one client
// (TerminateConnections, by application_name) and restart (Restart).
package postgres
