package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailtask/internal/outcome"
	"mailtask/internal/pgstore"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/postgres"
)

// In cluster mode what was mailed about a failure is in the database, as
// the task's state is: a node's state_dir is scratch. status shows it
// from there, state reset forgets it there, and `notify digest` reports
// the database's states.
func TestNotifyInClusterModeUsesTheDatabase(t *testing.T) {
	t.Parallel()
	srv, caFile := startSMTP(t)
	url := postgres.Shared(t).NewDatabase(t)
	cfg, stateDir := clusterTaskOn(t, url, `[accounts.mail]
host = "127.0.0.1"
username = "alerts@contoso.example"
password = "app-pass"
`+notifyTable(srv, caFile, "mail"), "retries = 0")
	if code, _, errOut := run(t, "run-task", "--config", cfg, "t"); code != exitFailed {
		t.Fatalf("run-task: exit %d\n%s", code, errOut)
	}
	if got := srv.Received(); len(got) != 1 || !strings.Contains(string(got[0].Data), `task "t" failed`) {
		t.Fatalf("received %d mails, want the failure", len(got))
	}
	if _, err := os.Stat(filepath.Join(stateDir, "t.alert.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an alert file in the node's state_dir (%v)", err)
	}
	alerted := func() bool {
		t.Helper()
		code, out, errOut := run(t, "status", "--json", "--config", cfg)
		var rows []taskStatus
		if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("status: exit %d, %v\n%s%s", code, err, out, errOut)
		}
		return rows[0].Alert != nil && rows[0].Alert.Mailed == 1
	}
	if !alerted() {
		t.Error("status shows no alert after the failure was mailed")
	}
	if code, _, errOut := run(t, "notify", "digest", "--config", cfg); code != exitOK {
		t.Fatalf("notify digest: exit %d\n%s", code, errOut)
	}
	if got := srv.Received(); len(got) != 2 || !strings.Contains(string(got[1].Data), "Subject: mailtask digest: 1 of 1 tasks failing") {
		t.Errorf("received %d mails, want the digest of the failing task", len(got))
	}
	if code, out, errOut := run(t, "state", "reset", "--config", cfg, "t"); code != exitOK {
		t.Fatalf("state reset: exit %d\n%s%s", code, out, errOut)
	}
	if alerted() {
		t.Error("status shows the alert after state reset")
	}

	// Throttled, the failure's mail stays due in the database: status
	// shows it and the failed send, whichever node looks; state reset
	// drops it.
	srv.RefuseMail(&smtp.SMTPError{Code: 432, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Concurrent connections limit exceeded"})
	if code, _, errOut := run(t, "run-task", "--config", cfg, "t"); code != exitFailed || !strings.Contains(errOut, "could not send the notification") {
		t.Fatalf("run-task: exit %d\n%s", code, errOut)
	}
	_, out, _ := run(t, "status", "--config", cfg)
	for _, want := range []string{"mails due ([notify]): 1 about 1 task", "sending them failed 1 times in a row", "Concurrent connections limit exceeded\n  hint: "} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if code, out, errOut := run(t, "state", "reset", "--config", cfg, "t"); code != exitOK || !strings.Contains(out, "t: dropped 1 mail due about it, not sent") {
		t.Fatalf("state reset: exit %d\n%s%s", code, out, errOut)
	}
	if _, out, _ := run(t, "status", "--config", cfg); strings.Contains(out, "mails due") {
		t.Errorf("mails due after state reset:\n%s", out)
	}
}

// Every `mailtask run` of a cluster runs the digest's schedule, and at
// each scheduled time one of them mails the digest, built from the
// database's states: the daemon hands its node's store to the digest
// loop. Handed the file store, each node would mail its own digest of
// tasks "not run yet" in its scratch state_dir. The digest comes every two
// seconds here (cron's optional seconds field), which every node works
// out alike, so the test waits on the nodes' logs for a scheduled time
// both have decided, not on a clock, and checks that time's mail.
func TestDaemonsMailOneDigestFromTheDatabase(t *testing.T) {
	t.Parallel()
	srv, caFile := startSMTP(t)
	url := postgres.Shared(t).NewDatabase(t)
	top := `log_format = "json"
[accounts.mail]
host = "127.0.0.1"
username = "alerts@contoso.example"
password = "app-pass"
` + notifyTable(srv, caFile, "mail") + `digest = "*/2 * * * * *"
`
	const never = `schedule = "0 0 1 1 *"` // the nodes leave the task alone
	cfgA, _ := clusterTaskOn(t, url, top, never)
	cfgB, _ := clusterTaskOn(t, url, top, never)

	// Task "t" failed on a node gone since: its state is in the database
	// alone, and it is not due for a day.
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	s, err := pgstore.Open(ctx, pgstore.Options{URL: url, Node: "node-gone"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.ClaimTask(ctx, "t", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.LastRun = &state.Run{Started: time.Now().Add(-time.Hour), Outcome: outcome.Failed, Error: "the server went away"}
	if err := l.CommitRun(ctx, st, *st.LastRun, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx, time.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}

	a := startChild(t, "run", "--config", cfgA)
	b := startChild(t, "run", "--config", cfgB)
	due, decisions := digestDecidedByBoth(t, a, b)
	slices.Sort(decisions)
	if want := []string{"digest left to the node that claimed it", "digest sent"}; !slices.Equal(decisions, want) {
		t.Errorf("the digest due at %s: the nodes logged %q; want one sent, the other left", due, decisions)
	}
	mails := digestsByDue(t, srv.Received())
	switch got := mails[due.Format(time.RFC1123Z)]; {
	case len(got) != 1:
		t.Errorf("%d digests mailed for %s; want one for the cluster", len(got), due)
	case !strings.Contains(got[0], "Subject: mailtask digest: 1 of 1 tasks failing") || !strings.Contains(got[0], "error: the server went away"):
		t.Errorf("the digest does not report the database's state, a failed run:\n%s", got[0])
	}
	for _, c := range []*child{a, b} {
		c.signal(t, syscall.SIGTERM)
		if code, _ := c.wait(t); code != exitOK {
			t.Errorf("a node exited %d:\n%s", code, c.output())
		}
	}
	// The digests of the scheduled times before and after: one each too.
	for at, got := range digestsByDue(t, srv.Received()) {
		if len(got) != 1 {
			t.Errorf("%d digests mailed for %s", len(got), at)
		}
	}
}

// digestDecidedByBoth waits until both nodes have logged what they did
// with the digest of one scheduled time (sent it, left it to the node
// that claimed it, failed to send it), and returns the earliest such time
// and the messages of both lines.
func digestDecidedByBoth(t *testing.T, a, b *child) (time.Time, []string) {
	t.Helper()
	deadline := time.After(within)
	for {
		var changed []chan struct{}
		for _, c := range []*child{a, b} {
			c.mu.Lock()
			changed = append(changed, c.changed)
			c.mu.Unlock()
		}
		byA, byB := digestDecisions(t, a), digestDecisions(t, b)
		var common []int64
		for at := range byA {
			if _, ok := byB[at]; ok {
				common = append(common, at)
			}
		}
		if len(common) > 0 {
			at := slices.Min(common)
			return time.Unix(at, 0), []string{byA[at], byB[at]}
		}
		select {
		case <-changed[0]:
		case <-changed[1]:
		case <-a.exited:
			t.Fatalf("a node exited (%v):\n%s", a.err, a.output())
		case <-b.exited:
			t.Fatalf("a node exited (%v):\n%s", b.err, b.output())
		case <-deadline:
			t.Fatalf("no scheduled digest decided by both nodes within %s:\n%s\n\n%s", within, a.output(), b.output())
		}
	}
}

// digestDecisions reads a node's JSON log for what it did with each
// scheduled digest: the message by due time (Unix seconds).
func digestDecisions(t *testing.T, c *child) map[int64]string {
	t.Helper()
	c.mu.Lock()
	lines := slices.Clone(c.lines)
	c.mu.Unlock()
	decided := map[int64]string{}
	for _, l := range lines {
		var rec struct {
			Msg string    `json:"msg"`
			Due time.Time `json:"due"`
		}
		if json.Unmarshal([]byte(l), &rec) != nil || rec.Due.IsZero() || !strings.Contains(rec.Msg, "digest") {
			continue
		}
		decided[rec.Due.Unix()] = rec.Msg
	}
	return decided
}

// digestLine is the line of a digest naming its scheduled time.
var digestLine = regexp.MustCompile(`(?m)^mailtask on [^,\r\n]*, (.+)\r$`)

// digestsByDue groups the digests among mails by their scheduled time, as
// they write it (RFC 1123 with a numeric zone).
func digestsByDue(t *testing.T, mails []testmail.ReceivedMail) map[string][]string {
	t.Helper()
	byDue := map[string][]string{}
	for _, m := range mails {
		data := string(m.Data)
		if !strings.Contains(data, "Subject: mailtask digest") {
			continue
		}
		match := digestLine.FindStringSubmatch(data)
		if match == nil {
			t.Fatalf("a digest without its time:\n%s", data)
		}
		byDue[match[1]] = append(byDue[match[1]], data)
	}
	return byDue
}
