package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"
)

// dueMails is the backlog BenchmarkOutboxWindow measures: an outage of
// thousands of mailboxes while the SMTP server refuses, reminders
// piling up.
const dueMails = 5000

// BenchmarkOutboxWindow measures what one window costs the file store
// with dueMails mails due: refused, the window reads them all and
// groups them, and they stay; accepted, it also removes them. CPU
// (user+system, from rusage) per window is reported as cpu-ms/op; count
// syscalls with strace -c -f on the test binary.
func BenchmarkOutboxWindow(b *testing.B) {
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	fill := func(b *testing.B, dir string) {
		for i := range dueMails {
			m := &Mail{Task: fmt.Sprintf("m%04d", i), Kind: Failed, At: t0.Add(time.Duration(i) * time.Millisecond),
				Class: "hint: expired", Error: "token endpoint: AADSTS7000222: The provided client secret keys for app are expired.", Since: t0, Failures: 1, Mailed: 1}
			if err := queueMail(dir, m); err != nil {
				b.Fatal(err)
			}
		}
	}
	refused := errors.New("432 4.3.2 throttled")
	for _, c := range []struct {
		name string
		err  error
	}{{"refused", refused}, {"accepted", nil}} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			f := files{dir, slog.New(slog.DiscardHandler)}
			fill(b, dir)
			var cpu time.Duration
			for i := 0; b.Loop(); i++ {
				if c.err == nil && i > 0 {
					b.StopTimer()
					fill(b, dir)
					b.StartTimer()
				}
				before := rusage()
				window := t0.Add(time.Duration(i+1) * Window)
				_, err := f.SendDue(context.Background(), window, time.Minute, func(due []Mail, budget int) (int, int, error) {
					if len(due) != dueMails {
						b.Fatalf("%d due, want %d", len(due), dueMails)
					}
					grouped(due, window)
					if c.err != nil {
						return 0, 0, c.err
					}
					return len(due), 1, nil
				})
				cpu += rusage() - before
				if !errors.Is(err, c.err) {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// rusage is the CPU the process has used, user and system.
func rusage() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
