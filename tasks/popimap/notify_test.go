package popimap

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/notify"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

func TestNotifyFailures(t *testing.T) {
	srv, caFile := testmail.StartSMTPWithCA(t, testmail.SMTPOptions{Username: testUser, Password: testPassword})
	f := newFixture(t, testmail.IMAPOptions{})
	host, port, _ := strings.Cut(srv.Addr, ":")
	p, err := strconv.Atoi(port)
	mustT(t, err)
	f.cfg.Notify = &config.Notify{Account: "a", Host: host, Port: p, TLS: config.TLSStartTLS, CAFile: caFile,
		From: testUser, To: []string{"ops@example.test"}, Timeout: config.Duration(10 * time.Second)}

	// A case a window after the last: each mail goes at once.
	clk := clock.NewFake(time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC))
	for _, tc := range []struct {
		name   string
		err    error
		dryRun bool
		mails  int
	}{
		{"failure", errors.New("boom"), false, 1},
		{"the same failure again", errors.New("boom"), false, 0},
		{"success: the recovery", nil, false, 1},
		{"success", nil, false, 0},
		{"dry run", errors.New("boom"), true, 0},
		{"already running", &state.LockedError{Task: "t"}, false, 0},
		{"cancelled", context.Canceled, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk.Advance(notify.Window)
			before := len(srv.Received())
			fake := func(context.Context, Options) (Summary, error) { return Summary{Task: "t"}, tc.err }
			_, err := NotifyFailures(fake, clk, slog.New(slog.DiscardHandler))(context.Background(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], DryRun: tc.dryRun, Now: clk.Now})
			if !errors.Is(err, tc.err) {
				t.Errorf("error %v, want the run's %v", err, tc.err)
			}
			if got := len(srv.Received()) - before; got != tc.mails {
				t.Errorf("%d mails, want %d", got, tc.mails)
			}
		})
	}
}

// run-task sends the mail its run made due, nothing else might: at once,
// or, when another's mail went out in this window, at the next window,
// waiting for it rather than leaving the mail until some later run.
func TestRunTaskSendsItsMailAtTheNextWindow(t *testing.T) {
	srv, caFile := testmail.StartSMTPWithCA(t, testmail.SMTPOptions{Username: testUser, Password: testPassword})
	f := newFixture(t, testmail.IMAPOptions{})
	host, port, _ := strings.Cut(srv.Addr, ":")
	p, err := strconv.Atoi(port)
	mustT(t, err)
	f.cfg.Notify = &config.Notify{Account: "a", Host: host, Port: p, TLS: config.TLSStartTLS, CAFile: caFile,
		From: testUser, To: []string{"ops@example.test"}, Timeout: config.Duration(10 * time.Second)}
	clk := clock.NewFake(time.Date(2025, 3, 14, 7, 0, 10, 0, time.UTC))
	fails := func(context.Context, Options) (Summary, error) { return Summary{}, errors.New("boom") }
	run := NotifyFailures(fails, clk, slog.New(slog.DiscardHandler))
	first, second := *f.cfg.Tasks[0], *f.cfg.Tasks[0]
	first.Name, second.Name = "first", "second"
	run(context.Background(), Options{Config: f.cfg, Task: &first, Now: clk.Now})
	if n := len(srv.Received()); n != 1 {
		t.Fatalf("%d mails after the first run, want its own", n)
	}
	done := make(chan struct{})
	go func() {
		run(context.Background(), Options{Config: f.cfg, Task: &second, Now: clk.Now})
		close(done)
	}()
	mustT(t, clk.WaitForTimerAt(time.Date(2025, 3, 14, 7, 1, 0, 0, time.UTC), 10*time.Second))
	if n := len(srv.Received()); n != 1 {
		t.Fatalf("%d mails within the first window, want 1", n)
	}
	clk.AdvanceToNext()
	<-done
	if got := srv.Received(); len(got) != 2 || !strings.Contains(string(got[1].Data), `Subject: mailtask: task "second" failed`) {
		t.Errorf("after the window: %d mails, want the second run's", len(got))
	}
}
