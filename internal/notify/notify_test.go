package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailtask/internal/auth"
	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/mailbox"
	"mailtask/internal/outcome"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

const (
	user     = "invoices@contoso.example"
	password = "app-password-123"
)

// smtpFixture is an SMTP server and a configuration whose [notify] points
// at it, signing in as account "inbox".
type smtpFixture struct {
	srv *testmail.SMTPServer
	cfg *config.Config
}

func newSMTPFixture(t *testing.T, opts testmail.SMTPOptions, notifyTOML ...string) *smtpFixture {
	t.Helper()
	ca, err := testmail.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	opts.TLS = ca.ServerTLS
	opts.Username, opts.Password = user, password
	srv, err := testmail.StartSMTP(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()
	caFile, err := ca.WriteCertFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(srv.Addr, ":")
	tls := "starttls"
	if opts.Implicit {
		tls = "implicit"
	}
	text := `
[accounts.inbox]
host = "127.0.0.1"
username = "` + user + `"
password_env = "NOTIFY_TEST_PASSWORD"
[[task]]
name = "invoices"
account = "inbox"
destination = "dest"
[notify]
account = "inbox"
host = "` + host + `"
port = ` + port + `
tls = "` + tls + `"
ca_file = "` + caFile + `"
to = ["ops@contoso.example", "lead@contoso.example"]
timeout = "10s"
` + strings.Join(notifyTOML, "\n")
	path := filepath.Join(dir, "mailtask.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_TEST_PASSWORD", password)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return &smtpFixture{srv: srv, cfg: cfg}
}

func (f *smtpFixture) send(t *testing.T, subject, body string) error {
	t.Helper()
	m, err := New(f.cfg, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return m.Send(ctx, subject, body)
}

func TestSendPicksMechanism(t *testing.T) {
	for _, tc := range []struct {
		name     string
		offered  []string
		implicit bool
		want     string
	}{
		{"PLAIN when offered", []string{sasl.Plain, sasl.Login}, false, sasl.Plain},
		{"LOGIN as Microsoft 365 offers", []string{sasl.Login}, false, sasl.Login},
		{"implicit TLS", []string{sasl.Plain}, true, sasl.Plain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSMTPFixture(t, testmail.SMTPOptions{Mechanisms: tc.offered, Implicit: tc.implicit})
			if err := f.send(t, "Grüße: task failed", "line one\nline two with ünïcode\n"); err != nil {
				t.Fatal(err)
			}
			got := f.srv.Received()
			if len(got) != 1 {
				t.Fatalf("server received %d mails", len(got))
			}
			r := got[0]
			if r.Mechanism != tc.want || r.Username != user {
				t.Errorf("signed in with %s as %q, want %s as %q", r.Mechanism, r.Username, tc.want, user)
			}
			if r.From != user || strings.Join(r.To, ",") != "ops@contoso.example,lead@contoso.example" {
				t.Errorf("envelope from %q to %q", r.From, r.To)
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(r.Data)))
			if err != nil {
				t.Fatal(err)
			}
			subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if subject != "Grüße: task failed" || msg.Header.Get("From") != user || msg.Header.Get("Auto-Submitted") != "auto-generated" {
				t.Errorf("header %v", msg.Header)
			}
			if strings.Contains(string(r.Data), password) {
				t.Error("the password is in the message")
			}
		})
	}
}

func TestSendAuthRefused(t *testing.T) {
	ms := &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."}
	f := newSMTPFixture(t, testmail.SMTPOptions{Mechanisms: []string{sasl.Login}, AuthError: ms})
	err := f.send(t, "s", "b")
	var ne *Error
	if !errors.As(err, &ne) || ne.Step != "login" {
		t.Fatalf("error %v, want a login failure", err)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error %q leaks the password", err)
	}
	if hint := diagnose.Hint(err); !strings.Contains(hint, "SMTP AUTH") {
		t.Errorf("hint %q does not explain SMTP AUTH", hint)
	}
	if n := len(f.srv.Received()); n != 0 {
		t.Errorf("%d mails accepted", n)
	}
}

func TestSendWrongPassword(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	t.Setenv("NOTIFY_TEST_PASSWORD", "wrong")
	err := f.send(t, "s", "b")
	var ne *Error
	if !errors.As(err, &ne) || ne.Step != "login" || !strings.Contains(err.Error(), "535") {
		t.Fatalf("error %v, want a 535 at login", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error %q leaks the password", err)
	}
}

func TestSendNeedsTrustedCertificate(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	f.cfg.Notify.CAFile = ""
	err := f.send(t, "s", "b")
	var ne *Error
	if !errors.As(err, &ne) || ne.Step != "TLS" {
		t.Fatalf("error %v, want a TLS failure against an untrusted certificate", err)
	}
}

func TestSendNoAuthOffered(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{Mechanisms: []string{}})
	if err := f.send(t, "s", "b"); err == nil || !strings.Contains(err.Error(), "no AUTH") {
		t.Fatalf("error %v, want no AUTH offered", err)
	}
}

func TestTaskFailedAndDigest(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{}, `digest = "0 8 * * *"`)
	runErr := &mailbox.Error{Step: mailbox.StepLogin, Addr: "outlook.office365.com:993", User: user, Err: errors.New("AUTHENTICATE XOAUTH2: imap: NO AUTHENTICATE failed.")}
	ended(t, f.cfg, "invoices", runErr, time.Now())
	// Cancelled runs are not failures worth a mail.
	ended(t, f.cfg, "invoices", context.Canceled, time.Now().Add(Window))
	got := f.srv.Received()
	if len(got) != 1 {
		t.Fatalf("%d mails, want 1", len(got))
	}
	body := decodedBody(t, got[0].Data)
	for _, want := range []string{`task "invoices" failed`, "AUTHENTICATE failed.", "Hint:", "mailtask state show invoices"} {
		if !strings.Contains(body, want) {
			t.Errorf("failure mail lacks %q:\n%s", want, body)
		}
	}

	st, err := state.Load(f.cfg.StateDir, "invoices")
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	st.LastRun = &state.Run{Started: started, Outcome: "failed", Error: runErr.Error(), Hint: "check the password"}
	st.LastSuccess = &state.Run{Started: started.Add(-time.Hour), Outcome: "ok", Counts: outcome.Counts{Files: 3}}
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	if err := SendDigest(context.Background(), f.cfg, nil, started.Add(2*time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	got = f.srv.Received()
	if len(got) != 2 {
		t.Fatalf("%d mails, want 2", len(got))
	}
	msg, _ := mail.ReadMessage(strings.NewReader(string(got[1].Data)))
	if s := msg.Header.Get("Subject"); s != "mailtask digest: 1 of 1 tasks failing" {
		t.Errorf("digest subject %q", s)
	}
	body = decodedBody(t, got[1].Data)
	for _, want := range []string{"invoices (inbox", "failed", "AUTHENTICATE failed.", "hint: check the password", "last success", "(3h0m0s ago)"} {
		if !strings.Contains(body, want) {
			t.Errorf("digest lacks %q:\n%s", want, body)
		}
	}
}

func TestNoNotifySectionSendsNothing(t *testing.T) {
	cfg := &config.Config{}
	if err := RunEnded(context.Background(), cfg, nil, "t", errors.New("x"), time.Now(), nil); err != nil {
		t.Errorf("TaskFailed without [notify] = %v", err)
	}
	if m, err := New(cfg, nil, nil); m != nil || err != nil {
		t.Errorf("New without [notify] = %v, %v", m, err)
	}
}

// ended is a run of task that ended with runErr at, and the window's
// mails sent then, on the file store.
func ended(t *testing.T, cfg *config.Config, task string, runErr error, at time.Time) {
	t.Helper()
	if err := RunEnded(context.Background(), cfg, nil, task, runErr, at, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := SendDue(context.Background(), cfg, nil, at, nil); err != nil {
		t.Fatal(err)
	}
}

func decodedBody(t *testing.T, data []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Fatalf("transfer encoding %q", msg.Header.Get("Content-Transfer-Encoding"))
	}
	b, err := io.ReadAll(quotedPrintable(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n")
}

func TestDigestsOnSchedule(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{}, `digest = "0 8 * * *"`)
	start := time.Date(2025, 3, 14, 7, 59, 0, 0, time.Local)
	clk := clock.NewFake(start)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Digests(ctx, func() *config.Config { return f.cfg }, nil, nil, clk, slog.New(slog.DiscardHandler))
		close(done)
	}()
	// 07:59 to 08:00, then a day to the next 08:00.
	for _, want := range []time.Duration{time.Minute, 24 * time.Hour} {
		mustWait(t, clk.WaitForTimers(1, 10*time.Second))
		if d, err := clk.AdvanceToNext(); err != nil || d != want {
			t.Errorf("waited %s (%v), want %s", d, err, want)
		}
	}
	// The loop arms its next timer only after sending.
	mustWait(t, clk.WaitForTimers(1, 10*time.Second))
	if got := f.srv.Received(); len(got) != 2 || !strings.Contains(string(got[1].Data), "mailtask digest") {
		t.Errorf("received %d mails", len(got))
	}
	cancel()
	<-done
}

// A reload (SIGHUP) moves the digest to the new schedule, or stops it.
func TestDigestsFollowReload(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{}, `digest = "0 8 * * *"`)
	start := time.Date(2025, 3, 14, 7, 59, 0, 0, time.Local)
	clk := clock.NewFake(start)
	var current atomic.Pointer[config.Config]
	current.Store(f.cfg)
	reloaded := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Digests(ctx, current.Load, reloaded, nil, clk, slog.New(slog.DiscardHandler))
		close(done)
	}()
	defer func() { cancel(); <-done }()
	mustWait(t, clk.WaitForTimerAt(start.Add(time.Minute), 10*time.Second))

	later := *f.cfg
	n := *later.Notify
	n.Digest = "30 7 * * *"
	later.Notify = &n
	current.Store(&later)
	reloaded <- struct{}{}
	next := time.Date(2025, 3, 15, 7, 30, 0, 0, time.Local)
	mustWait(t, clk.WaitForTimerAt(next, 10*time.Second))
	if p := clk.Pending(); len(p) != 1 {
		t.Fatalf("timers pending %v, want only the new schedule's", p)
	}
	if d, err := clk.AdvanceToNext(); err != nil || d != next.Sub(start) {
		t.Errorf("waited %s (%v), want %s", d, err, next.Sub(start))
	}
	mustWait(t, clk.WaitForTimers(1, 10*time.Second)) // sent, and the next one armed
	if got := f.srv.Received(); len(got) != 1 {
		t.Errorf("received %d mails, want the digest at 07:30", len(got))
	}

	none := *f.cfg
	none.Notify = nil
	current.Store(&none)
	reloaded <- struct{}{}
	reloaded <- struct{}{} // taken only once the loop is waiting again, with no timer
	if p := clk.Pending(); len(p) != 0 {
		t.Errorf("timers pending %v after the digest was removed", p)
	}
}

func mustWait(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// With an OAuth2 account the mailer signs in with XOAUTH2 and the
// account's token, as Microsoft 365 expects.
func TestSendXOAUTH2(t *testing.T) {
	var gotUser, gotToken string
	f := newSMTPFixture(t, testmail.SMTPOptions{Mechanisms: []string{sasl.Login, "XOAUTH2"}, XOAUTH2: func(user, token string) bool {
		gotUser, gotToken = user, token
		return token == "access-token-1"
	}})
	m, err := New(f.cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Cred = auth.Bearer(user, auth.StaticToken("access-token-1", user))
	if err := m.Send(context.Background(), "s", "b"); err != nil {
		t.Fatal(err)
	}
	if got := f.srv.Received(); len(got) != 1 || got[0].Mechanism != "XOAUTH2" || gotUser != user || gotToken != "access-token-1" {
		t.Errorf("received %+v as %q with %q", got, gotUser, gotToken)
	}
	m.Cred = auth.Bearer(user, auth.StaticToken("expired", user))
	err = m.Send(context.Background(), "s", "b")
	if err == nil || strings.Contains(err.Error(), "expired") {
		t.Errorf("a refused token: error %v (it must not carry the token)", err)
	}
}

// Every failed run was mailed: 288 mails a day for a task failing at
// */5. Now a failure is mailed once, reminders follow at growing gaps, a
// failure of another kind is new, and a success after failures is
// mailed once. What was mailed is kept on disk (0600), so a restart
// (here: every call, which keeps nothing in memory) changes nothing.
func TestFailureMailsAreDeduplicatedAndBackedOff(t *testing.T) {
	f := newSMTPFixture(t, testmail.SMTPOptions{})
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	login := func(uid int) error { // the same failure, with details that vary
		return fmt.Errorf("login to outlook.office365.com:993 as %s failed (attempt %d): AUTHENTICATE failed.", user, uid)
	}
	disk := errors.New("write \"a.pdf\" in /srv/drop: no space left on device")
	var subjects []string
	at := func(d time.Duration, runErr error) {
		t.Helper()
		before := len(f.srv.Received())
		ended(t, f.cfg, "invoices", runErr, t0.Add(d))
		for _, s := range testmail.Subjects(t, f.srv.Received()[before:]) {
			subjects = append(subjects, fmt.Sprintf("+%s %s", d, s))
		}
	}
	// A day failing every five minutes.
	for d := time.Duration(0); d < 24*time.Hour; d += 5 * time.Minute {
		at(d, login(int(d/time.Minute)))
	}
	since := t0.Format(time.RFC1123Z)
	want := []string{
		`+0s mailtask: task "invoices" failed`,
		`+1h0m0s mailtask: task "invoices" still failing (since ` + since + `)`,
		`+3h0m0s mailtask: task "invoices" still failing (since ` + since + `)`,
		`+7h0m0s mailtask: task "invoices" still failing (since ` + since + `)`,
		`+15h0m0s mailtask: task "invoices" still failing (since ` + since + `)`,
	}
	if !slices.Equal(subjects, want) {
		t.Errorf("a day of failures mailed:\n%s\nwant:\n%s", strings.Join(subjects, "\n"), strings.Join(want, "\n"))
	}
	fi, err := os.Stat(alertPath(f.cfg.StateDir, "invoices"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("alert file: %v, %v; want 0600", fi, err)
	}
	subjects = nil
	at(24*time.Hour, disk)                    // another kind of failure: new
	at(24*time.Hour+5*time.Minute, disk)      // the same: quiet
	at(24*time.Hour+10*time.Minute, nil)      // success: the recovery
	at(24*time.Hour+15*time.Minute, nil)      // and quiet again
	at(24*time.Hour+20*time.Minute, login(1)) // a new failure
	want = []string{
		`+24h0m0s mailtask: task "invoices" failed`,
		`+24h10m0s mailtask: task "invoices" recovered`,
		`+24h20m0s mailtask: task "invoices" failed`,
	}
	if !slices.Equal(subjects, want) {
		t.Errorf("mailed:\n%s\nwant:\n%s", strings.Join(subjects, "\n"), strings.Join(want, "\n"))
	}
	got := f.srv.Received()
	for _, w := range []string{"succeeded at", "after 2 failed runs since"} {
		if body := decodedBody(t, got[len(got)-2].Data); !strings.Contains(body, w) {
			t.Errorf("recovery mail lacks %q:\n%s", w, body)
		}
	}
}
