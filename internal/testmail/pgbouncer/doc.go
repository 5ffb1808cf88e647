// Package pgbouncer runs a real PgBouncer (Debian's package pgbouncer) for
// tests, in front of a PostgreSQL of the postgres harness: a connection
// pooler such as operators put between their applications and the
// database, and such as managed databases offer on a port of their own.
// Through it a client's connection is not the server's: in transaction
// mode each transaction gets whichever server connection is free, so
// whatever a client leaves on a session (prepared statements, session
// settings, advisory locks) is found by another, or missing; and PgBouncer
// refuses a connection whose startup packet sets a parameter it does not
// know.
//
// A Server listens on a free loopback port, never elsewhere, and lets
// every user of the PostgreSQL behind it in without a password, as that
// one does (trust). It runs as the postgres user when the tests run as
// root (PgBouncer refuses root), as our child, stopped by its PID.
//
// Without PgBouncer the tests that need it skip, or fail when the
// environment says CI=true, as the other harnesses do.
package pgbouncer
