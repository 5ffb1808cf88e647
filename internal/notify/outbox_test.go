package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/gofrs/flock"

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
	few := taskNames("t", Budget)
	record(t, f.cfg, few, errors.New("login failed: AUTHENTICATE failed."), clk.Now())
	window()
	if n := len(f.srv.Received()); n != 1+Budget {
		t.Errorf("%d mails for %d failures in a window, want one each", n-1, Budget)
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

// run-task sends the mail its run made due, nothing else might: at once
// while the window's budget lasts, so that a script running failing
// tasks one after the other waits for none of the first three; then at
// the next window, waiting for it rather than leaving the mail until some
// later run. It waited a minute for each mail after the first.
func TestSendSoonSpendsTheBudgetThenWaits(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	clk := clock.NewFake(time.Date(2025, 3, 14, 7, 0, 10, 0, time.UTC))
	boom := errors.New("boom")
	var want []string
	for _, task := range taskNames("t", Budget) {
		record(t, f.cfg, []string{task}, boom, clk.Now())
		// What SendSoon does first; SendSoon itself would wait, here for
		// ever, when the budget is spent.
		if left, err := SendDue(context.Background(), f.cfg, nil, clk.Now(), nil); left || err != nil {
			t.Fatalf("send about %s: left %v, %v", task, left, err)
		}
		want = append(want, fmt.Sprintf("mailtask: task %q failed", task))
		if s := testmail.Subjects(t, f.srv.Received()); !slices.Equal(s, want) {
			t.Fatalf("mailed %q, want %q", s, want)
		}
	}
	record(t, f.cfg, []string{"late"}, boom, clk.Now())
	sent := make(chan error)
	go func() { sent <- SendSoon(context.Background(), f.cfg, nil, clk, nil) }()
	mustWait(t, clk.WaitForTimerAt(time.Date(2025, 3, 14, 7, 1, 0, 0, time.UTC), 10*time.Second))
	if n := len(f.srv.Received()); n != Budget {
		t.Fatalf("%d mails within the first window, want %d", n, Budget)
	}
	clk.AdvanceToNext()
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if s := testmail.Subjects(t, f.srv.Received()); !slices.Equal(s, append(want, `mailtask: task "late" failed`)) {
		t.Errorf("mailed %q", s)
	}
}

// Mails due that do not fit in what is left of the window go as one
// mail.
func TestWhatDoesNotFitGoesGrouped(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	boom := errors.New("boom")
	record(t, f.cfg, []string{"first", "second"}, boom, t0)
	if left, err := SendDue(context.Background(), f.cfg, nil, t0, nil); left || err != nil {
		t.Fatalf("send: left %v, %v", left, err)
	}
	record(t, f.cfg, []string{"third", "fourth"}, boom, t0.Add(time.Second))
	if left, err := SendDue(context.Background(), f.cfg, nil, t0.Add(2*time.Second), nil); left || err != nil {
		t.Fatalf("send: left %v, %v", left, err)
	}
	want := []string{`mailtask: task "first" failed`, `mailtask: task "second" failed`, "mailtask: 2 tasks failed"}
	if s := testmail.Subjects(t, f.srv.Received()); !slices.Equal(s, want) {
		t.Errorf("mailed %q, want %q", s, want)
	}
}

// An operator whose [notify] account is throttled, or whose password
// expired, saw nothing in `mailtask status`. The outbox says which mails
// are due, since when, and the send that keeps failing, until one goes.
func TestOutboxShowsMailsDueAndFailedSends(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	f.srv.RefuseMail(&smtp.SMTPError{Code: 432, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "STOREDRV.ClientSubmit; sender thread limit exceeded"})
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	boom := errors.New("boom")
	record(t, f.cfg, []string{"a", "b.x"}, boom, t0.Add(time.Second))
	record(t, f.cfg, []string{"a"}, nil, t0.Add(2*time.Second))
	for i := 1; i <= 2; i++ {
		if _, err := SendDue(context.Background(), f.cfg, nil, t0.Add(time.Duration(i)*Window), nil); err == nil {
			t.Fatal("a send to a throttling server went")
		}
	}
	ob, err := OutboxOf(context.Background(), f.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]TaskMails{"a": {2, t0.Add(time.Second)}, "b.x": {1, t0.Add(time.Second)}}
	if !maps.EqualFunc(ob.Due, want, func(a, b TaskMails) bool { return a.Mails == b.Mails && a.Oldest.Equal(b.Oldest) }) {
		t.Errorf("due %v, want %v", ob.Due, want)
	}
	if sf := ob.Failing; sf == nil || sf.Attempts != 2 || !sf.Since.Equal(t0.Add(Window)) || !sf.Last.Equal(t0.Add(2*Window)) || !strings.Contains(sf.Error, "432 4.3.2") {
		t.Errorf("failing %+v, want the two refusals", sf)
	}
	f.srv.RefuseMail(nil)
	if _, err := SendDue(context.Background(), f.cfg, nil, t0.Add(3*Window), nil); err != nil {
		t.Fatal(err)
	}
	if ob, err := OutboxOf(context.Background(), f.cfg, nil); err != nil || len(ob.Due) != 0 || ob.Failing != nil {
		t.Errorf("once sent: %+v, %v; want nothing due, nothing failing", ob, err)
	}
}

// `mailtask state reset` forgot a task's alert but not its mail due: a
// failure the admin had just mended and reset was mailed afterwards.
func TestForgetRemovesTheMailsDue(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	boom := errors.New("boom")
	record(t, f.cfg, []string{"mended", "mended.eu", "other"}, boom, t0)
	if n, err := Forget(context.Background(), f.cfg, nil, "mended"); n != 1 || err != nil {
		t.Fatalf("forget: %d mails, %v; want 1", n, err)
	}
	if a, err := storeOf(f.cfg, nil, nil).Alert(context.Background(), "mended"); a != nil || err != nil {
		t.Errorf("alert after forget: %+v, %v", a, err)
	}
	if _, err := SendDue(context.Background(), f.cfg, nil, t0, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{`mailtask: task "mended.eu" failed`, `mailtask: task "other" failed`}
	if s := testmail.Subjects(t, f.srv.Received()); !slices.Equal(s, want) {
		t.Errorf("mailed %q, want %q", s, want)
	}
}

// A record of a mail due that cannot be read was removed without a word.
// It is kept aside where the admin finds it, logged with its path and
// listed by Outbox; the other mails go.
func TestADamagedRecordIsKeptAside(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	record(t, f.cfg, []string{"whole"}, errors.New("boom"), t0)
	damaged := filepath.Join(outboxDir(f.cfg.StateDir), mailName("torn", t0))
	if err := os.WriteFile(damaged, []byte(`{"Task":"torn","Ki`), 0o600); err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	if _, err := SendDue(context.Background(), f.cfg, nil, t0, slog.New(slog.NewTextHandler(&logged, nil))); err != nil {
		t.Fatal(err)
	}
	if s := testmail.Subjects(t, f.srv.Received()); !slices.Equal(s, []string{`mailtask: task "whole" failed`}) {
		t.Errorf("mailed %q, want the whole record's mail", s)
	}
	aside := damaged + damagedSuffix
	if data, err := os.ReadFile(aside); err != nil || string(data) != `{"Task":"torn","Ki` {
		t.Errorf("kept aside: %q, %v", data, err)
	}
	if !strings.Contains(logged.String(), "path="+aside) {
		t.Errorf("the log does not name %s:\n%s", aside, logged.String())
	}
	if ob, err := OutboxOf(context.Background(), f.cfg, nil); err != nil || !slices.Equal(ob.Damaged, []string{aside}) {
		t.Errorf("outbox %+v, %v; want %s damaged", ob, err, aside)
	}
}

// logLines is a log's destination that hands over each line as it is
// written, so that a test learns what a sender decided when it decides.
type logLines chan string

func (l logLines) Write(p []byte) (int, error) {
	l <- string(p)
	return len(p), nil
}

// A run-task whose run ended while another process (the daemon, another
// run-task) was sending found the outbox's lock taken and waited for the
// next window: its failure mailed up to a minute late, though the holder
// let go within seconds. It waits for the holder, then spends what is
// left of the window's budget, in the same window, as cluster mode's
// senders do on the window's row.
func TestASecondSenderWaitsForTheFirst(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	held, release := f.srv.HoldData()
	t.Cleanup(release) // before the server closes
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0.Add(20 * time.Second))
	boom := errors.New("boom")
	record(t, f.cfg, []string{"first"}, boom, t0.Add(5*time.Second))
	type result struct {
		left bool
		err  error
	}
	first := make(chan result, 1)
	go func() {
		left, err := SendDue(context.Background(), f.cfg, nil, t0.Add(10*time.Second), nil)
		first <- result{left, err}
	}()
	select {
	case <-held: // the first sender holds the outbox, its mail unanswered
	case <-time.After(10 * time.Second):
		t.Fatal("the first sender's mail never reached the server")
	}
	record(t, f.cfg, []string{"second"}, boom, t0.Add(15*time.Second))
	lines := make(logLines, 64)
	second := make(chan error, 1)
	go func() {
		second <- SendSoon(context.Background(), f.cfg, nil, clk, slog.New(slog.NewTextHandler(lines, nil)))
	}()
	for waiting := false; !waiting; {
		select {
		case line := <-lines:
			if strings.Contains(line, "waiting for the next") {
				t.Fatalf("the second sender left its mail to the next window while the first held the outbox: %s", line)
			}
			waiting = strings.Contains(line, "another process is sending the mails due: waiting for it")
		case <-time.After(10 * time.Second):
			t.Fatal("the second sender neither waited for the first nor gave up")
		}
	}
	release()
	if r := <-first; r.left || r.err != nil { // its mail answered: bounded by the mailer's timeout
		t.Fatalf("the first sender: left %v, %v", r.left, r.err)
	}
	select {
	case err := <-second:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the second sender did not send once the first let go; timers pending at %v", clk.Pending())
	}
	want := []string{`mailtask: task "first" failed`, `mailtask: task "second" failed`}
	if s := testmail.Subjects(t, f.srv.Received()); !slices.Equal(s, want) {
		t.Errorf("mailed %q, want %q", s, want)
	}
	if !clk.Now().Equal(t0.Add(20*time.Second)) || len(clk.Pending()) != 0 {
		t.Errorf("the second sender waited for a later window: now %s, timers %v", clk.Now(), clk.Pending())
	}
	if start, spent, ok := readWindow(filepath.Join(outboxDir(f.cfg.StateDir), "window")); !ok || !start.Equal(t0) || spent != 2 {
		t.Errorf("window %s spent %d (%v), want %s spent 2", start, spent, ok, t0)
	}
}

// A holder that never lets go (a process stopped, a file system hung)
// keeps a sender waiting at most what SendDue allows for another's
// sending, leaving it as long for its own, and the error names the lock;
// the mails stay due.
func TestAWaitForAHungSenderIsBounded(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	record(t, f.cfg, []string{"stuck"}, errors.New("boom"), t0)
	lock := filepath.Join(outboxDir(f.cfg.StateDir), "lock")
	hung := flock.New(lock)
	if err := hung.Lock(); err != nil {
		t.Fatal(err)
	}
	defer hung.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // SendDue's is far longer
	defer cancel()
	claimed, err := storeOf(f.cfg, nil, nil).SendDue(ctx, t0, 200*time.Millisecond, func([]Mail, int) (int, int, error) {
		t.Error("sent while another process held the outbox")
		return 0, 0, nil
	})
	if claimed || err == nil || !strings.Contains(err.Error(), lock) || !strings.Contains(err.Error(), "stuck") || ctx.Err() != nil {
		t.Errorf("waiting for a hung holder: claimed %v, %v (context: %v); want an error naming %s within the wait", claimed, err, ctx.Err(), lock)
	}
	if names, err := dueFiles(outboxDir(f.cfg.StateDir)); len(names) != 1 || err != nil {
		t.Errorf("mails due after the wait: %v, %v; want the one", names, err)
	}
}
