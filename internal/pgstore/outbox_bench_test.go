package pgstore

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/testmail/postgres"
)

// dueMails is the backlog BenchmarkOutboxWindow measures: an outage of
// thousands of mailboxes while the SMTP server refuses, reminders
// piling up.
const dueMails = 5000

// BenchmarkOutboxWindow measures a window of the cluster's outbox with
// dueMails mails due, refused by the SMTP server so that they stay: the
// node's CPU (user+system, rusage) as cpu-ms/op, and the WAL the database
// writes as wal-bytes/op.
func BenchmarkOutboxWindow(b *testing.B) {
	ctx := context.Background()
	url := postgres.Shared(b).NewDatabase(b)
	if _, err := Migrate(ctx, url); err != nil {
		b.Fatal(err)
	}
	s, err := Open(ctx, Options{URL: url, Node: "bench", MaxConns: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	admin, err := adminConnect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close(ctx)
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for i := range dueMails {
			m := &Mail{Task: fmt.Sprintf("m%04d", i), Kind: "failed", At: t0.Add(time.Duration(i) * time.Millisecond),
				Class: "hint: expired", Error: "token endpoint: AADSTS7000222: The provided client secret keys for app are expired.", Since: t0, Failures: 1, Mailed: 1}
			if err := queueMail(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	refused := errors.New("432 4.3.2 throttled")
	wal := func() int64 {
		var n int64
		if err := admin.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn").Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	var cpu time.Duration
	var walBytes int64
	for i := 0; b.Loop(); i++ {
		w0, c0 := wal(), rusage()
		_, err := s.SendDue(ctx, t0.Add(time.Duration(i+1)*time.Minute), 3, time.Minute, func(due []Mail, budget int) (int, int, error) {
			if len(due) != dueMails {
				b.Fatalf("%d due, want %d", len(due), dueMails)
			}
			return 0, 0, refused
		}, func(error) string { return "" })
		cpu += rusage() - c0
		walBytes += wal() - w0
		if !errors.Is(err, refused) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(walBytes)/float64(b.N), "wal-bytes/op")
}

// rusage is the CPU the process has used, user and system.
func rusage() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
