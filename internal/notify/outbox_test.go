package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/testmail"
)

// record is runs of tasks ending with runErr at, recorded, nothing sent.
func record(t *testing.T, cfg *config.Config, tasks []string, runErr error, at time.Time) {
	t.Helper()
	for _, task := range tasks {
		if err := RunEnded(context.Background(), cfg, nil, task, runErr, at, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func taskNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return names
}

// An outage failing every mailbox at once (here an expired app secret,
// and a few mailboxes failing another way) was a mail per task, then a
// reminder per task an hour later, and a recovery per task: thousands of
// mails, far past the 30 a minute Microsoft 365 lets a mailbox send. Now
// each window's mails go as one, the tasks grouped by cause, the list of
// names bounded; each task counts as mailed, so its reminder comes on
// its schedule, grouped again, and so does its recovery.
func TestManyFailuresAtOnceMakeOneMail(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	secret := errors.New("token endpoint: AADSTS7000222: The provided client secret keys for app are expired.")
	expired, disk := taskNames("m", 60), taskNames("d", 3)
	record(t, f.cfg, expired, secret, t0.Add(10*time.Second))
	record(t, f.cfg, disk, errors.New("write \"a.pdf\" in /srv/drop: no space left on device"), t0.Add(20*time.Second))
	if n := len(f.srv.Received()); n != 0 {
		t.Fatalf("runs sent %d mails themselves", n)
	}
	send := func(at time.Time) {
		t.Helper()
		if left, err := SendDue(context.Background(), f.cfg, nil, at, nil); left || err != nil {
			t.Fatalf("send at %s: left %v, %v", at, left, err)
		}
	}
	send(t0.Add(Window))
	got := f.srv.Received()
	if s := testmail.Subjects(t, got); !slices.Equal(s, []string{"mailtask: 63 tasks failed"}) {
		t.Fatalf("mailed %q, want one mail about the 63 tasks", s)
	}
	body := decodedBody(t, got[0].Data)
	for _, want := range []string{
		"Failed: 60 tasks\n", "AADSTS7000222", "m0000, m0001", "m0019, and 40 more",
		"Failed: 3 tasks\n", "no space left on device", "d0000, d0001, d0002\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the grouped mail lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "m0020") {
		t.Errorf("the grouped mail names more than %d tasks of a cause", listedPerCause)
	}
	if strings.Index(body, "Failed: 60") > strings.Index(body, "Failed: 3 ") {
		t.Errorf("the larger cause is not first:\n%s", body)
	}

	// Every run fails the same way for an hour: quiet until the reminder.
	for d := 20 * time.Minute; d < time.Hour; d += 20 * time.Minute {
		record(t, f.cfg, expired, secret, t0.Add(d))
		send(t0.Add(d + Window))
	}
	if n := len(f.srv.Received()); n != 1 {
		t.Fatalf("%d mails during the hour, want none after the first", n-1)
	}
	record(t, f.cfg, expired, secret, t0.Add(time.Hour+10*time.Second))
	record(t, f.cfg, disk, nil, t0.Add(time.Hour+20*time.Second))
	send(t0.Add(time.Hour + Window))
	want := []string{"mailtask: 63 tasks failed", "mailtask: 60 tasks still failing, 3 tasks recovered"}
	if s := testmail.Subjects(t, f.srv.Received()); !slices.Equal(s, want) {
		t.Errorf("mailed %q, want %q", s, want)
	}
	if names, err := dueFiles(outboxDir(f.cfg.StateDir)); len(names) != 0 || err != nil {
		t.Errorf("mails still due after they went: %v, %v", names, err)
	}
}

// A failure among healthy tasks goes at the next window, as its own mail;
// so do a few at once.
func TestALoneFailureIsMailedWithinAWindow(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	start := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Mails(ctx, func() *config.Config { return f.cfg }, nil, clk, slog.New(slog.DiscardHandler))
		close(done)
	}()
	defer func() { cancel(); <-done }()
	window := func() {
		t.Helper()
		mustWait(t, clk.WaitForTimers(1, 10*time.Second))
		if d, err := clk.AdvanceToNext(); err != nil || d > Window {
			t.Fatalf("waited %s (%v) for the window, want at most %s", d, err, Window)
		}
		mustWait(t, clk.WaitForTimers(1, 10*time.Second)) // sent, and the next window armed
	}
	mustWait(t, clk.WaitForTimers(1, 10*time.Second))
	record(t, f.cfg, []string{"invoices"}, errors.New("login failed: AUTHENTICATE failed."), start.Add(10*time.Second))
	window()
	if s := testmail.Subjects(t, f.srv.Received()); !slices.Equal(s, []string{`mailtask: task "invoices" failed`}) {
		t.Fatalf("mailed %q, want the failure on its own", s)
	}
	few := taskNames("t", GroupAbove)
	record(t, f.cfg, few, errors.New("login failed: AUTHENTICATE failed."), clk.Now())
	window()
	if n := len(f.srv.Received()); n != 1+GroupAbove {
		t.Errorf("%d mails for %d failures in a window, want one each", n-1, GroupAbove)
	}
}

// Microsoft 365 throttling the notify account (432 4.3.2) was met by
// every run of every failing task trying again, each holding its slot for
// the exchange. Now runs only record; the server is tried once a window,
// whoever asks, and the mails wait recorded until it accepts.
func TestARefusingServerIsTriedOnceAWindow(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	f.srv.RefuseMail(&smtp.SMTPError{Code: 432, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "STOREDRV.ClientSubmit; sender thread limit exceeded"})
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	tasks := taskNames("m", 60)
	runErr := errors.New("dial tcp: lookup outlook.office365.com: i/o timeout")
	record(t, f.cfg, tasks, runErr, t0)
	if _, err := SendDue(context.Background(), f.cfg, nil, t0.Add(Window), nil); err == nil || !strings.Contains(err.Error(), "432 4.3.2") {
		t.Fatalf("send to a throttling server: %v", err)
	}
	// Every task runs again within the window, as do run-tasks asking
	// to send: nobody tries the server again.
	record(t, f.cfg, tasks, runErr, t0.Add(Window+10*time.Second))
	for range 5 {
		if left, err := SendDue(context.Background(), f.cfg, nil, t0.Add(Window+30*time.Second), nil); !left || err != nil {
			t.Fatalf("a second send in the window: left %v, %v", left, err)
		}
	}
	if n := f.srv.Refused(); n != 1 {
		t.Errorf("the server was tried %d times in the window, want once", n)
	}
	f.srv.RefuseMail(nil)
	if _, err := SendDue(context.Background(), f.cfg, nil, t0.Add(2*Window), nil); err != nil {
		t.Fatal(err)
	}
	got := f.srv.Received()
	if s := testmail.Subjects(t, got); !slices.Equal(s, []string{"mailtask: 60 tasks failed"}) {
		t.Fatalf("mailed %q once the server accepts, want the 60 failures in one", s)
	}
	if body := decodedBody(t, got[0].Data); !strings.Contains(body, "Failed: 60 tasks") {
		t.Errorf("grouped mail:\n%s", body)
	}
	entries, _ := os.ReadDir(outboxDir(f.cfg.StateDir))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			t.Errorf("%s still due after it went", e.Name())
		}
	}
}

// run-task sends the mail its run made due, nothing else might: at once,
// or, when another's mail went out in this window, at the next window,
// waiting for it rather than leaving the mail until some later run.
func TestSendSoonWaitsForTheNextWindow(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	clk := clock.NewFake(time.Date(2025, 3, 14, 7, 0, 10, 0, time.UTC))
	boom := errors.New("boom")
	record(t, f.cfg, []string{"first"}, boom, clk.Now())
	if err := SendSoon(context.Background(), f.cfg, nil, clk, nil); err != nil {
		t.Fatal(err)
	}
	if n := len(f.srv.Received()); n != 1 {
		t.Fatalf("%d mails after the first run, want its own", n)
	}
	record(t, f.cfg, []string{"second"}, boom, clk.Now())
	sent := make(chan error)
	go func() { sent <- SendSoon(context.Background(), f.cfg, nil, clk, nil) }()
	mustWait(t, clk.WaitForTimerAt(time.Date(2025, 3, 14, 7, 1, 0, 0, time.UTC), 10*time.Second))
	if n := len(f.srv.Received()); n != 1 {
		t.Fatalf("%d mails within the first window, want 1", n)
	}
	clk.AdvanceToNext()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if s := testmail.Subjects(t, f.srv.Received()); !slices.Equal(s, []string{`mailtask: task "first" failed`, `mailtask: task "second" failed`}) {
		t.Errorf("mailed %q", s)
	}
}
