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
			_, err := NotifyFailures(fake, slog.New(slog.DiscardHandler))(context.Background(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], DryRun: tc.dryRun, Now: clk.Now})
			if _, err := notify.SendDue(context.Background(), f.cfg, nil, clk.Now(), nil); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("error %v, want the run's %v", err, tc.err)
			}
			if got := len(srv.Received()) - before; got != tc.mails {
				t.Errorf("%d mails, want %d", got, tc.mails)
			}
		})
	}
}
