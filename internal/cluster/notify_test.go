package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mailtask/internal/auth"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtask/internal/clock"
	"mailtask/internal/cluster"
	"mailtask/internal/config"
	"mailtask/internal/notify"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/tasks/popimap"
)

// notifyNode is one node of a cluster with [notify]: its configuration,
// whose state_dir is its own, and its share of the database.
type notifyNode struct {
	cfg  *config.Config
	node *cluster.Node
}

// notifyCluster starts an SMTP server and opens two nodes on a fresh
// database whose configuration mails through it; notifyTOML adds to
// [notify], tasks are the task names (account "a").
func notifyCluster(t *testing.T, notifyTOML string, tasks ...string) (url string, srv *testmail.SMTPServer, a, b notifyNode) {
	t.Helper()
	srv, notifyTable := startSMTP(t, testmail.SMTPOptions{Username: "alerts@contoso.example", Password: "app-pass"}, "mail")
	body := `[accounts.a]
host = "127.0.0.1"
port = 1
tls = "none"
username = "u"
password = "p"
[accounts.mail]
host = "127.0.0.1"
username = "alerts@contoso.example"
password = "app-pass"
` + notifyTable + notifyTOML + "\n"
	for _, name := range tasks {
		body += fmt.Sprintf("[[task]]\nname = %q\naccount = \"a\"\ndestination = \"d\"\n", name)
	}
	url = migratedDB(t)
	open := func(name string) notifyNode {
		cfg := clusterConfig(t, url, "", body) // a state_dir of its own
		return notifyNode{cfg: cfg, node: openNode(t, cfg, name)}
	}
	return url, srv, open("node-a"), open("node-b")
}

// startSMTP starts an SMTP server taking mail over STARTTLS, as
// Microsoft 365's does, and returns the [notify] table that mails
// through it as account.
func startSMTP(t *testing.T, opts testmail.SMTPOptions, account string) (*testmail.SMTPServer, string) {
	t.Helper()
	srv, caFile := testmail.StartSMTPWithCA(t, opts)
	host, port, _ := strings.Cut(srv.Addr, ":")
	return srv, fmt.Sprintf(`[notify]
account = %q
host = %q
port = %s
tls = "starttls"
ca_file = %q
to = ["ops@contoso.example"]
timeout = "10s"
`, account, host, port, caFile)
}

// Two nodes running a failing task in turn (as the cluster's claims hand
// it to one, then the other) mail the failure once, the reminders on
// their schedule, and the recovery once: what was mailed is in the
// database, not in each node's state_dir (scratch in cluster mode), where
// each node mailed the failure as new and only the node that saw it mailed
// the recovery.
func TestFailuresMailedOnceAcrossNodes(t *testing.T) {
	_, srv, a, b := notifyCluster(t, "", "invoices")
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	// The daemon's run context has ended when the run's mail goes out:
	// its record gave the lease back and stopped its renewals.
	ended, end := context.WithCancel(testContext(t))
	end()
	clk := clock.NewFake(t0)
	run := func(n notifyNode, d time.Duration, runErr error) {
		t.Helper()
		fails := func(context.Context, popimap.Options) (popimap.Summary, error) {
			return popimap.Summary{Task: "invoices"}, runErr
		}
		clk.Advance(t0.Add(d).Sub(clk.Now()))
		opts := popimap.Options{Config: n.cfg, Task: n.cfg.Tasks[0], Shared: n.node, Now: clk.Now}
		if _, err := popimap.NotifyFailures(fails, slog.New(slog.DiscardHandler))(ended, opts); !errors.Is(err, runErr) {
			t.Fatalf("run at +%s: %v", d, err)
		}
		if _, err := notify.SendDue(ended, n.cfg, n.node.Notify(), clk.Now(), nil); err != nil {
			t.Fatalf("send at +%s: %v", d, err)
		}
	}
	login := errors.New("login to outlook.office365.com:993 failed: AUTHENTICATE failed.")
	nodes := []notifyNode{a, b}
	i := 0
	for d := time.Duration(0); d < 8*time.Hour; d += 5 * time.Minute {
		run(nodes[i%2], d, login)
		i++
	}
	run(nodes[i%2], 8*time.Hour, nil)
	run(nodes[(i+1)%2], 8*time.Hour+5*time.Minute, nil)
	since := t0.Format(time.RFC1123Z)
	want := []string{
		`mailtask: task "invoices" failed`,
		`mailtask: task "invoices" still failing (since ` + since + `)`,
		`mailtask: task "invoices" still failing (since ` + since + `)`,
		`mailtask: task "invoices" still failing (since ` + since + `)`,
		`mailtask: task "invoices" recovered`,
	}
	if got := testmail.Subjects(t, srv.Received()); !slices.Equal(got, want) {
		t.Errorf("mailed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A node deciding about a task's alert (mailing) holds it until it has
// recorded what it mailed: another node ending a run of the task
// meanwhile (the first run's lease went back with its record, before its
// mail) waits, then decides from what the first recorded. Without the
// lock, the second node's recovery is mailed and recorded, then undone by
// the first's record: the task stays "failing" in status, and its next
// failure is taken for the same one, mailed as a reminder at best.
func TestAlertDecidedInTurn(t *testing.T) {
	url, srv, a, b := notifyCluster(t, "", "invoices")
	ctx := testContext(t)
	t0 := time.Now().Add(-time.Hour)
	if err := notify.RunEnded(ctx, a.cfg, a.node.Notify(), "invoices", errors.New("AUTHENTICATE failed."), t0, nil); err != nil {
		t.Fatal(err)
	}
	// Node a's next run failed the same way; it is deciding (the
	// reminder is not due) when node b's run succeeds.
	deciding, decided := make(chan struct{}), make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		aDone <- a.node.Notify().UpdateAlert(ctx, "invoices", func(prev *notify.Alert) (*notify.Alert, *notify.Mail, error) {
			close(deciding)
			<-decided
			next := *prev
			next.Failures++
			return &next, nil, nil
		})
	}()
	<-deciding
	bDone := make(chan error, 1)
	go func() { bDone <- notify.RunEnded(ctx, b.cfg, b.node.Notify(), "invoices", nil, time.Now(), nil) }()
	waitForLockWaiter(ctx, url)
	close(decided)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	if _, err := notify.SendDue(ctx, b.cfg, b.node.Notify(), time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	want := []string{`mailtask: task "invoices" failed`, `mailtask: task "invoices" recovered`}
	if got := testmail.Subjects(t, srv.Received()); !slices.Equal(got, want) {
		t.Errorf("mailed %q, want %q", got, want)
	}
	if left, err := a.node.Notify().Alert(ctx, "invoices"); err != nil || left != nil {
		t.Errorf("after the recovery the alert is %+v (%v), want none", left, err)
	}
	body := decodedText(t, srv.Received()[1].Data)
	if !strings.Contains(body, "after 2 failed runs") {
		t.Errorf("the recovery does not count node a's failure:\n%s", body)
	}
}

// Every node runs the digest loop; at a scheduled time one of them sends
// the digest, and it reports the states in the database, which no
// node's state_dir has: each node mailed its own "all well" digest of
// tasks that had "not run yet".
func TestDigestOncePerClusterFromTheDatabase(t *testing.T) {
	_, srv, a, b := notifyCluster(t, `digest = "0 8 * * *"`, "invoices", "scans", "new")
	ctx := testContext(t)
	started := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	commit := func(task string, last, success *state.Run, failed []state.Failure) {
		t.Helper()
		lease, err := a.node.Store().ClaimTask(ctx, task, a.node.Lease())
		if err != nil {
			t.Fatal(err)
		}
		st := &state.State{Version: state.Version, Task: task, LastRun: last, LastSuccess: success, Failed: failed}
		if err := lease.Commit(ctx, st, nil); err != nil {
			t.Fatal(err)
		}
		if err := lease.Release(ctx, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	commit("invoices", &state.Run{Started: started, Outcome: "failed", Error: "login failed: AUTHENTICATE failed."},
		&state.Run{Started: started.Add(-24 * time.Hour), Outcome: "ok"}, nil)
	commit("scans", &state.Run{Started: started, Outcome: "ok"}, &state.Run{Started: started, Outcome: "ok"},
		[]state.Failure{{Key: "uid:7", Reason: "unparseable", At: started}})

	loopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var clocks []*clock.Fake
	ended := make(chan struct{}, 2)
	for _, n := range []notifyNode{a, b} {
		clk := clock.NewFake(time.Date(2025, 3, 14, 7, 59, 0, 0, time.Local))
		clocks = append(clocks, clk)
		go func() {
			notify.Digests(loopCtx, func() *config.Config { return n.cfg }, nil, n.node.Notify(), clk, slog.New(slog.DiscardHandler))
			ended <- struct{}{}
		}()
	}
	for _, clk := range clocks {
		if err := clk.WaitForTimers(1, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := clk.AdvanceToNext(); err != nil {
			t.Fatal(err)
		}
	}
	for _, clk := range clocks { // each has decided, and armed the next day's
		if err := clk.WaitForTimers(1, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-ended
	<-ended
	got := srv.Received()
	if s := testmail.Subjects(t, got); len(s) != 1 || s[0] != "mailtask digest: 1 of 3 tasks failing" {
		t.Fatalf("digests sent: %q, want one of 1 of 3 tasks failing", s)
	}
	body := decodedText(t, got[0].Data)
	for _, want := range []string{
		"3 tasks: 2 need a look, 0 well, 1 not run yet",
		"invoices (a → ", "AUTHENTICATE failed.",
		"scans (a → ", "1 messages kept aside as failed (mailtask state show scans)",
		"Not run yet: 1\n  new\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("digest lacks %q:\n%s", want, body)
		}
	}
}

// A node whose clock ran 10 minutes ahead of the database's came to the
// digest 10 minutes early, claimed it and sent it, its "since" its own.
// It waits for the database's clock, as long as the database says, and
// asks again: its own timer firing is not enough.
func TestANodeAheadWaitsForTheDatabasesClock(t *testing.T) {
	url, srv, a, _ := notifyCluster(t, `digest = "* * * * *"`, "invoices")
	ctx := testContext(t)
	clk := clock.NewFake(time.Now().Add(10 * time.Minute))
	loopCtx, cancel := context.WithCancel(ctx)
	ended := make(chan struct{})
	go func() {
		notify.Digests(loopCtx, func() *config.Config { return a.cfg }, nil, a.node.Notify(), clk, slog.New(slog.DiscardHandler))
		close(ended)
	}()
	defer func() { cancel(); <-ended }()
	for round := range 2 { // the schedule's time, then the end of the wait
		if err := clk.WaitForTimers(1, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := clk.AdvanceToNext(); err != nil {
			t.Fatal(err)
		}
		fired := clk.Now()
		if err := clk.WaitForTimers(1, 10*time.Second); err != nil { // decided, and armed what comes next
			t.Fatal(err)
		}
		if wait := clk.Pending()[0].Sub(fired); wait < 9*time.Minute || wait > 11*time.Minute {
			t.Errorf("round %d: node a, 10 minutes ahead, waits %s after its timer at %s; want about 10 minutes, for the database's clock",
				round, wait, fired.Format(time.RFC3339))
		}
		if s := testmail.Subjects(t, srv.Received()); len(s) != 0 {
			t.Fatalf("round %d: node a, 10 minutes ahead, sent %q before the database's time", round, s)
		}
		var claims []string
		query(t, url, func(node []byte) { claims = append(claims, string(node)) }, "SELECT node FROM digests")
		if len(claims) != 0 {
			t.Fatalf("round %d: digests claimed by %q before the database's time", round, claims)
		}
	}
}

// decodedText is the text of a mail the notifier sent, quoted-printable.
func decodedText(t *testing.T, data []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(text), "\r\n", "\n")
}

// A node mails with the OAuth2 tokens `auth login` stored in the
// database, as it polls with them: [notify]'s account signed in on one
// node mails from any, over XOAUTH2, as Microsoft 365 asks now that it
// retires passwords for SMTP. Before, the mailer looked for the tokens in
// the node's state_dir, found none, and no failure was ever mailed.
func TestNotifySignsInWithTheDatabasesTokens(t *testing.T) {
	ctx := testContext(t)
	f := startIdP(t)
	srv, notifyTable := startSMTP(t, testmail.SMTPOptions{Mechanisms: []string{"XOAUTH2"}, XOAUTH2: func(user, token string) bool {
		_, ok := f.idp.Introspect(token)
		return user == f.idp.User() && ok
	}}, "m365")
	url := migratedDB(t)
	cfg := clusterConfig(t, url, "", f.account("m365", fmt.Sprintf("redirect_url = %q\nscopes = [%q, %q, %q]", f.redirect,
		"https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send", "offline_access"))+notifyTable)
	signedIn, other := openNode(t, cfg, "node-a"), openNode(t, cfg, "node-b")
	src, err := auth.NewSource(cfg.Accounts["m365"], auth.Options{Tokens: signedIn.Tokens()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.LoginBrowser(ctx, func(u string) {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
		}
	}); err != nil {
		t.Fatal(err)
	}

	runErr := errors.New("the mailbox is full")
	if err := notify.RunEnded(ctx, cfg, other.Notify(), "m365", runErr, time.Now(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if _, err := notify.SendDue(ctx, cfg, other.Notify(), time.Now(), slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("the failure was not mailed: %v", err)
	}
	if got := srv.Received(); len(got) != 1 || got[0].Mechanism != "XOAUTH2" {
		t.Errorf("received %+v; want the failure, signed in with XOAUTH2", got)
	}
}

// Every node runs the mail loop; in a window one node sends every mail
// due, whichever nodes' runs recorded them, as one mail when they are
// many; a node coming to a window already sent (its clock behind, or a
// run-task) leaves what was recorded since to the next window. Without
// the window's claim each node sent its own share, and every run-task
// ending in the window sent again.
func TestOneGroupedMailPerWindowAcrossNodes(t *testing.T) {
	_, srv, a, b := notifyCluster(t, "", "invoices")
	ctx := testContext(t)
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	secret := errors.New("token endpoint: AADSTS7000222: The provided client secret keys for app are expired.")
	for i := range 40 {
		n := []notifyNode{a, b}[i%2]
		if err := notify.RunEnded(ctx, n.cfg, n.node.Notify(), fmt.Sprintf("m%02d", i), secret, t0.Add(time.Duration(i)*time.Second), nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.Received()); n != 0 {
		t.Fatalf("runs sent %d mails themselves", n)
	}

	loopCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var clocks []*clock.Fake
	ended := make(chan struct{}, 2)
	for _, n := range []notifyNode{a, b} {
		clk := clock.NewFake(t0.Add(50 * time.Second))
		clocks = append(clocks, clk)
		go func() {
			notify.Mails(loopCtx, func() *config.Config { return n.cfg }, n.node.Notify(), clk, slog.New(slog.DiscardHandler))
			ended <- struct{}{}
		}()
	}
	for _, clk := range clocks {
		if err := clk.WaitForTimers(1, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := clk.AdvanceToNext(); err != nil {
			t.Fatal(err)
		}
	}
	for _, clk := range clocks { // each has decided, and armed the next window
		if err := clk.WaitForTimers(1, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-ended
	<-ended
	got := srv.Received()
	if s := testmail.Subjects(t, got); !slices.Equal(s, []string{"mailtask: 40 tasks failed"}) {
		t.Fatalf("mailed %q, want one mail about the 40 tasks", s)
	}
	if body := decodedText(t, got[0].Data); !strings.Contains(body, "Failed: 40 tasks\n") || !strings.Contains(body, "AADSTS7000222") {
		t.Errorf("grouped mail:\n%s", body)
	}

	// Recorded after the window's mail went: the window has two mails of
	// its budget left, which nodes spend in turn, one failure each;
	// then what is recorded waits for the next window.
	late := func(n notifyNode, task string, at time.Duration) (left bool) {
		t.Helper()
		if err := notify.RunEnded(ctx, n.cfg, n.node.Notify(), task, secret, t0.Add(at), nil); err != nil {
			t.Fatal(err)
		}
		left, err := notify.SendDue(ctx, n.cfg, n.node.Notify(), t0.Add(at+time.Second), nil)
		if err != nil {
			t.Fatal(err)
		}
		return left
	}
	if late(a, "late1", notify.Window+10*time.Second) || late(b, "late2", notify.Window+20*time.Second) {
		t.Fatal("a failure waits for the next window while the budget lasts")
	}
	if !late(a, "late3", notify.Window+30*time.Second) {
		t.Fatal("a fourth mail in the window went")
	}
	if left, err := notify.SendDue(ctx, b.cfg, b.node.Notify(), t0.Add(2*notify.Window), nil); left || err != nil {
		t.Fatalf("send at the next window: left %v, %v", left, err)
	}
	want := []string{"mailtask: 40 tasks failed", `mailtask: task "late1" failed`, `mailtask: task "late2" failed`, `mailtask: task "late3" failed`}
	if s := testmail.Subjects(t, srv.Received()); !slices.Equal(s, want) {
		t.Errorf("mailed %q, want %q", s, want)
	}
}

// Senders on both nodes at once (run-tasks of a script each, the nodes'
// minute) share the window's budget: whoever claims first, the window
// sends no more than its budget, and what does not go waits, none lost.
func TestSendersAtOnceShareTheBudget(t *testing.T) {
	_, srv, a, b := notifyCluster(t, "", "invoices")
	ctx := testContext(t)
	t0 := time.Date(2025, 3, 14, 7, 0, 0, 0, time.UTC)
	boom := errors.New("boom")
	const senders = 6
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		n := []notifyNode{a, b}[i%2]
		wg.Go(func() {
			if err := notify.RunEnded(ctx, n.cfg, n.node.Notify(), fmt.Sprintf("s%d", i), boom, t0, nil); err != nil {
				errs <- err
				return
			}
			if _, err := notify.SendDue(ctx, n.cfg, n.node.Notify(), t0.Add(time.Second), nil); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := len(srv.Received()); n > notify.Budget || n == 0 {
		t.Fatalf("%d mails in the window, want 1 to %d", n, notify.Budget)
	}
	if _, err := notify.SendDue(ctx, a.cfg, a.node.Notify(), t0.Add(notify.Window), nil); err != nil {
		t.Fatal(err)
	}
	ob, err := notify.OutboxOf(ctx, a.cfg, a.node.Notify())
	if err != nil || len(ob.Due) != 0 {
		t.Errorf("due after the next window: %v, %v", ob.Due, err)
	}
}
