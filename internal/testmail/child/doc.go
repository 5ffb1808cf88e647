// Package child starts the real servers of the test harnesses (PostgreSQL,
// versitygw) as children of the test binary that end with it: each in a
// process group of its own, so that one signal stops a server and the
// processes it forked, and, on Linux, with a parent-death signal, so that
// a test binary killed before its cleanups (a timeout panic, SIGKILL)
// leaves no server running. Their directories are in memory where
// there is room (MkdirTemp), and the next test binary removes those a
// killed one left there. Servers built with the go command (versitygw,
// mox) are found where it puts them, and taken only at the release the
// tests were written against (GoBinary).
package child
