// Package bench is the harness behind `make bench`: it measures mailtask
// against the wire limit (a bare client that fetches every message and
// throws it away) and against getmail6 and fetchmail, on one generated
// corpus in a real Dovecot on loopback, over IMAPS and POP3S, and prints a
// markdown table whose format stays stable from run to run so that runs
// can be compared.
//
// BenchmarkIdleDelivery is of another kind: the delay from APPEND to files
// durable for a task with idle = true, run in-process under the daemon's
// scheduler, beside the delays of a one-minute schedule (delay.go).
//
// The cluster benchmarks (claims_test.go, cluster_test.go) measure cluster
// mode on a real PostgreSQL and S3 server (versitygw): BenchmarkClaims the
// claims of 10,000 tasks by 3 nodes on PostgreSQL alone (pgstore),
// BenchmarkClusterScale 3 `mailtask run` nodes with 10,000 tasks every 5
// minutes (claims per second, delay from due time to claim, round trips
// per poll), BenchmarkClusterCorpus the corpus in cluster mode against
// the file store.
//
// Every tool runs as a child process, so wall time and peak RSS (from
// wait4) are the tool's own. The benchmarks themselves (bench_test.go)
// are run with `go test -bench`, never by `make test`.
//
// Run it on a quiet machine, and on ext4 without a journal not within a few
// minutes of deleting many files in the same filesystem (as `make test`
// does): ext4 without a journal passes over the inodes deleted in the last
// minute (the last six while their inode table block is dirty) each time it
// creates a file, looking each one up. Measured here right after a run of
// the harness had deleted some 10,000 files, that scan took 45 % of
// mailtask's CPU and made its runs up to twice as long, while the wire
// limit, which creates no files, was untouched. The harness itself
// deletes nothing until the comparison ends.
//
// Writing costs more in a virtual machine whose memory balloon reports
// free pages to the host (virtio-balloon free page reporting, as on the
// machine these figures come from): a page the guest touches for the
// first time since it was reported costs a fault in the host. Each
// mailtask run writes about 100 MB of new files, so the kernel's copy
// into fresh page-cache pages took 18 % of mailtask's CPU in a perf
// profile, and zeroing fresh heap pages another 8 %; dd wrote 100 MB at
// 330 MB/s into fresh pages and at 3 GB/s into pages just freed. The
// wire limit writes nothing and pays none of it; getmail6 and fetchmail
// pay it too.
package bench
