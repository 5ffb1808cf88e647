// Package mox runs mox (github.com/mjl-/mox, MIT), a mail server written
// in Go from the RFCs, as a real IMAP peer for tests: IMAP4rev2 when a
// client enables it, CONDSTORE, QRESYNC, MOVE, UIDPLUS, ESEARCH, NOTIFY
// and IDLE, and SEARCH of its own making. The other servers the tests
// run (Dovecot, Mailutils, Courier, Cyrus) are IMAP4rev1-era C servers;
// mox answers as an independent modern implementation does.
//
// It runs as `mox localserve`, mox's mode for trying it out on one
// machine: no root, no DNS, no network beyond loopback. Its directory
// (child.MkdirTemp) holds a configuration of the harness's own: plain
// IMAP (STARTTLS offered, with a certificate from a test CA) on one free
// loopback port and nothing else, where localserve's own would serve
// fixed ports (1143, 1025, 1080, ...) that two test binaries would fight
// over. Accounts are added while it runs, through its control socket
// (`mox config account add`, `mox setaccountpassword`), and mail is
// loaded over IMAP APPEND. It is stopped by its PID (SIGKILL to its
// process group), and gets SIGKILL too if the test binary dies
// (child.Attr).
//
// localserve runs in pedantic mode: protocol violations mox tolerates
// from clients in the wild are errors, so a command of mailtask's that
// bends the RFCs fails here.
//
// The binary is built by `.ci/run` from the module .ci/mox, which pins
// Version and its dependencies (the module proxy serves no version list
// for mox, which `go install mox@version` needs), into $GOBIN or $(go
// env GOPATH)/bin, where the harness looks for it, as in PATH. Only
// Version is accepted (its build information is read). Without it the
// tests that need it skip, or fail under CI=true.
package mox
