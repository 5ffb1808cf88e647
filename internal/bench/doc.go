// Package bench is the harness behind `make bench`: it measures mailtask
// against the wire limit (a bare client that fetches every message and
// throws it away) and against getmail6 and fetchmail, on one generated
// corpus in a real Dovecot on loopback, over IMAPS and POP3S, and prints a
// markdown table whose format stays stable from run to run so that runs
// can be compared.
//
// Every tool runs as a child process, so wall time and peak RSS (from
// wait4) are the tool's own. The benchmarks themselves (bench_test.go)
// are run with `go test -bench`, never by `make test`.
package bench
