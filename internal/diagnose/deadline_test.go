package diagnose

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// A run's own timeout running out in local work got the hint that the
// server did not answer. The errors here are shaped as the code makes
// them: popimap's WithDeadline, the POP3 client past its context's
// deadline, and the sockets' own timeouts.
func TestRunDeadlineIsToldFromAServerThatDidNotAnswer(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"the run's timeout",
			fmt.Errorf("task %q: the run did not finish within its timeout of %s and was abandoned; what was committed stays (raise the task's timeout if runs are legitimately this long): %w", "t", "30m0s", context.DeadlineExceeded),
			"did not finish within the task's timeout"},
		{"the run's timeout during a POP3 command",
			fmt.Errorf("fetch to pop.example.net:995 failed: %w", fmt.Errorf("pop3 pop.example.net:995: RETR 7: %w", context.DeadlineExceeded)),
			"did not finish within the task's timeout"},
		{"a stalled read (the account's timeout)",
			fmt.Errorf("fetch to mail.example.net:993 failed: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}),
			"did not answer in time"},
		{"a POP3 server that stopped answering",
			fmt.Errorf("pop3 pop.example.net:995: RETR 7: server did not answer within 2m0s: %w", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}),
			"did not answer in time"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Hint(c.err); !strings.Contains(got, c.want) {
				t.Errorf("Hint(%v) = %q, want it to contain %q", c.err, got, c.want)
			}
		})
	}
	// A dial that timed out is a network wait, though net's timeout error
	// also matches context.DeadlineExceeded.
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: dialTimeout(t)}
	if !errors.Is(dial, context.DeadlineExceeded) {
		t.Fatal("the dial timeout no longer matches context.DeadlineExceeded; the case is moot")
	}
	if got := Hint(fmt.Errorf("connect to mail.example.net:993 failed: %w", dial)); !strings.Contains(got, "did not answer in time") {
		t.Errorf("dial timeout: %q", got)
	}
}

// dialTimeout returns the error net gives a dial that ran out of time.
func dialTimeout(t *testing.T) error {
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	d := net.Dialer{}
	_, err := d.DialContext(ctx, "tcp", "127.0.0.1:9")
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("dial: %v", err)
	}
	return oe.Err
}
