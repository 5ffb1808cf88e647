package popimap

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/auth"
	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/mailbox"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// A server's limits on an account (too many connections, a bandwidth or
// rate budget spent) cost no mail: the run is retried, nothing is taken
// or marked, no message is counted as failed, and the hint names the
// setting to fix (internal/diagnose/limits.go).

// tookNothing fails t unless the task of cfg has taken, marked and kept
// aside nothing, and counted no failed delivery against any message.
func tookNothing(t *testing.T, cfg *config.Config) {
	t.Helper()
	if files := filesIn(t, cfg.Tasks[0].Destination); len(files) != 0 {
		t.Errorf("files written: %v", sortedKeys(files))
	}
	st, err := state.Load(cfg.StateDir, cfg.Tasks[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done.Len() != 0 || st.UIDLs.Len() != 0 || len(st.Failed) != 0 || len(st.Undelivered) != 0 {
		t.Errorf("state after the refusal: done %v, uidls %d, failed %+v, undelivered %v", st.Done.String(), st.UIDLs.Len(), st.Failed, st.Undelivered)
	}
	ledger, err := state.OpenLedger(cfg.StateDir, cfg.Tasks[0].Name)
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	if n := ledger.Len(); n != 0 {
		t.Errorf("the ledger holds %d messages", n)
	}
}

// gmailBandwidth answers UID FETCH of message bodies as Gmail does once
// an account has spent its IMAP bandwidth, while blocked is set: the
// first message, then refusal, a tagged "NO [OVERQUOTA] Account exceeded
// command or bandwidth limits. (Failure)" or an untagged "* BYE
// [OVERQUOTA] ..." before it closes the connection; otherwise as a plain
// server would.
func gmailBandwidth(raws [][]byte, blocked *atomic.Bool, refusal string) func(w io.Writer, tag, args string) error {
	return func(w io.Writer, tag, args string) error {
		set, items, _ := strings.Cut(args, " ")
		var b bytes.Buffer
		for i, num := range testmail.Numbers(set, len(raws)) {
			raw := raws[num-1]
			switch {
			case !strings.Contains(items, "BODY.PEEK[]"):
				fmt.Fprintf(&b, "* %d FETCH (UID %d RFC822.SIZE %d)\r\n", num, num, len(raw))
			case blocked.Load() && i > 0 && refusal == "BYE":
				b.WriteString("* BYE [OVERQUOTA] Account exceeded command or bandwidth limits.\r\n")
				if _, err := w.Write(b.Bytes()); err != nil {
					return err
				}
				return io.EOF // Gmail closes the connection
			case blocked.Load() && i > 0:
				fmt.Fprintf(&b, "%s NO [OVERQUOTA] Account exceeded command or bandwidth limits. (Failure)\r\n", tag)
				_, err := w.Write(b.Bytes())
				return err
			default:
				fmt.Fprintf(&b, "* %d FETCH (UID %d BODY[] {%d}\r\n%s)\r\n", num, num, len(raw), raw)
			}
		}
		fmt.Fprintf(&b, "%s OK Success\r\n", tag)
		_, err := w.Write(b.Bytes())
		return err
	}
}

// Gmail's bandwidth limit, met in the middle of a fetch, as a NO or as a
// BYE, is the account's and no message's: however many scheduled runs meet it, no
// message is counted as undelivered or kept aside as failed, and the
// mail is all taken once the block lifts.
func TestGmailBandwidthLimitCostsNoMessage(t *testing.T) {
	for _, refusal := range []string{"NO", "BYE"} {
		t.Run(refusal, func(t *testing.T) { gmailBandwidthLimit(t, refusal) })
	}
}

func gmailBandwidthLimit(t *testing.T, refusal string) {
	raws := [][]byte{
		testmail.NewMessage("one", testmail.Attachment{Name: "one.pdf", ContentType: "application/pdf", Content: pdf("one")}),
		testmail.NewMessage("two", testmail.Attachment{Name: "two.pdf", ContentType: "application/pdf", Content: pdf("two")}),
		testmail.NewMessage("three", testmail.Attachment{Name: "three.pdf", ContentType: "application/pdf", Content: pdf("three")}),
	}
	var blocked atomic.Bool
	blocked.Store(true)
	srv, err := testmail.StartScripted(testmail.IMAPScript{
		Capabilities: "IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 UIDPLUS COMPRESS=DEFLATE ENABLE MOVE CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- SPECIAL-USE",
		Greeting:     "* OK Gimap ready for requests from 127.0.0.1 x2mb241876667wmk",
		Messages:     raws,
		Replies:      map[string]func(io.Writer, string, string) error{"UID FETCH": gmailBandwidth(raws, &blocked, refusal)},
	}.Script())
	mustT(t, err)
	t.Cleanup(func() { srv.Close() })
	cfg := taskConfig(t, "gmail", accountTOML("gmail", config.ProtocolIMAP, srv.Addr(), config.TLSNone, "", "user", "password"))
	// More scheduled runs than a message may fail to arrive in before it
	// is kept aside (maxFetchAttempts).
	for run := range maxFetchAttempts + 1 {
		_, err := Run(t.Context(), Options{Config: cfg, Task: cfg.Tasks[0]})
		if err == nil || !mailbox.IsTransient(err) {
			t.Fatalf("run %d: err = %v, want a failure to retry", run+1, err)
		}
		if hint := diagnose.Hint(err); !strings.Contains(hint, "2,500 MB of IMAP downloads a day") {
			t.Errorf("run %d: err %v\nhint %q", run+1, err, hint)
		}
		st, err := state.Load(cfg.StateDir, cfg.Tasks[0].Name)
		mustT(t, err)
		if len(st.Undelivered) != 0 {
			t.Fatalf("run %d counted the account's bandwidth limit against messages: undelivered %v", run+1, st.Undelivered)
		}
	}
	tookNothing(t, cfg)

	blocked.Store(false)
	if sum := runCfg(t, cfg); sum.Files != 3 || sum.Failed != 0 {
		t.Errorf("once the block lifted: %+v", sum.Counts)
	}
}

// retryingRun runs the task of cfg as the daemon does (Retry) on a fake
// clock, advancing it through every backoff wait until the run ends, and
// returns the run's summary, its log and its error.
func retryingRun(t *testing.T, cfg *config.Config) (Summary, string, error) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC))
	run := Retry(Run, Backoff{Clock: clk, Jitter: func(d time.Duration) time.Duration { return d }})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var log bytes.Buffer
	type result struct {
		sum Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := run(ctx, Options{Config: cfg, Task: cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&log, nil))})
		done <- result{sum, err}
	}()
	for {
		select {
		case r := <-done:
			return r.sum, log.String(), r.err
		default:
		}
		// A wait is due once an attempt has failed; the run ends instead
		// once one succeeds or the retries are spent.
		if err := clk.WaitForTimers(1, 100*time.Millisecond); err == nil {
			if _, err := clk.AdvanceToNext(); err != nil {
				t.Fatal(err)
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the run did not end")
		}
	}
}

// A real Dovecot allowing one connection per user and address
// (mail_max_userip_connections = 1): while another client holds it, a
// run's sign-in is refused with "NO [LIMIT] Maximum number of connections
// from user+IP exceeded", which is retried, never taken for a wrong
// password, costs no mail, and has a hint naming max_connections; once
// the other client has gone, the retry takes everything. A task allowed
// two connections (max_connections = 2, connections = 2) fetches over
// the one the server allows (a further connection, when it is tried before
// the run is done, is refused: TestFurtherConnectionRefusedForTheLimit)
// and takes everything; one allowed one takes everything without a word
// about the limit. The same holds of POP3, where Dovecot says "-ERR
// [IN-USE] Maximum number of connections ...".
func TestDovecotConnectionLimit(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{Extra: "mail_max_userip_connections = 1\n"})
	scan := func(name string) []byte {
		return testmail.NewMessage(name, testmail.Attachment{Name: name + ".pdf", ContentType: "application/pdf", Content: pdf(name)})
	}
	d.Seed(t, d.User, "INBOX", scan("a"), scan("b"), scan("c"), scan("d"))
	cfg := dovecotConfig(t, d, `after = "seen"`, "batch_size = 1", "connections = 2", "retries = 0")
	acct := cfg.Accounts["dovecot"]
	acct.MaxConnections = 2

	// Another client holds the one connection the server allows.
	other, err := open(t.Context(), acct, auth.Password(acct.Username, string(acct.Password)), 0, nil, slog.New(slog.DiscardHandler))
	mustT(t, err)
	_, err = Run(t.Context(), Options{Config: cfg, Task: cfg.Tasks[0]})
	if err == nil || !mailbox.IsTransient(err) || !strings.Contains(err.Error(), "[LIMIT] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)") {
		t.Fatalf("err = %v, want Dovecot's refusal, to retry", err)
	}
	if hint := diagnose.Hint(err); !strings.Contains(hint, "set the account's max_connections no higher than 1") || strings.Contains(hint, "password") {
		t.Errorf("hint %q", hint)
	}
	tookNothing(t, cfg)
	if total, seen := d.Count(d.User, "INBOX"); total != 4 || seen != 0 {
		t.Errorf("the refused run changed the mailbox: %d messages, %d seen", total, seen)
	}
	other.Close()

	// Retried as the daemon does, once the other client has gone; the
	// server's count of its connections may lag a moment behind.
	twenty := 20
	cfg.Tasks[0].Retries = &twenty
	sum, log, err := retryingRun(t, cfg)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log)
	}
	if sum.Files != 4 || sum.Failed != 0 {
		t.Errorf("summary %+v, log:\n%s", sum.Counts, log)
	}
	if total, seen := d.Count(d.User, "INBOX"); total != 4 || seen != 4 {
		t.Errorf("mailbox: %d messages, %d seen; want 4, all seen", total, seen)
	}

	// Within the server's limit.
	d.Seed(t, d.User, "INBOX", scan("e"), scan("f"), scan("g"))
	acct.MaxConnections = 1
	sum, log, err = retryingRun(t, cfg)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log)
	}
	if sum.Files != 3 || strings.Contains(log, "refused one more connection") {
		t.Errorf("summary %+v, log:\n%s", sum.Counts, log)
	}

	// POP3, whose connections Dovecot counts apart from IMAP's.
	pop := dovecotProtocolConfig(t, d, config.ProtocolPOP3, "retries = 0")
	pacct := pop.Accounts["dovecot"]
	other, err = open(t.Context(), pacct, auth.Password(pacct.Username, string(pacct.Password)), 0, nil, slog.New(slog.DiscardHandler))
	mustT(t, err)
	_, err = Run(t.Context(), Options{Config: pop, Task: pop.Tasks[0]})
	if err == nil || !mailbox.IsTransient(err) || !strings.Contains(err.Error(), "[IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)") {
		t.Fatalf("POP3: err = %v, want Dovecot's refusal, to retry", err)
	}
	if hint := diagnose.Hint(err); !strings.Contains(hint, "set the account's max_connections no higher than 1") {
		t.Errorf("POP3: hint %q", hint)
	}
	tookNothing(t, pop)
	other.Close()
	pop.Tasks[0].Retries = &twenty
	sum, log, err = retryingRun(t, pop)
	if err != nil || sum.Files != 7 {
		t.Errorf("POP3, once the other client has gone: summary %+v, err %v\n%s", sum.Counts, err, log)
	}
}

// A further connection that the server refuses for its limit on
// connections (in Dovecot's words) costs the run nothing: the run's own
// connection fetches every batch, and the log says that max_connections
// is more than the server allows. The run's first fetch waits for the
// refusal, so that the further connection is surely tried.
func TestFurtherConnectionRefusedForTheLimit(t *testing.T) {
	refused := make(chan struct{})
	var once sync.Once
	fault := func(conn int, cmd string) error {
		switch {
		case conn > 1 && cmd == "LOGIN":
			once.Do(func() { close(refused) })
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeLimit, Text: "Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)"}
		case conn == 1 && cmd == "FETCH":
			select {
			case <-refused:
			case <-time.After(10 * time.Second): // the test fails on the log
			}
		}
		return nil
	}
	f := newFixture(t, testmail.IMAPOptions{ConnFault: fault}, `after = "seen"`, "batch_size = 1", "connections = 2")
	for i := 1; i <= 4; i++ {
		f.append(scan(i))
	}
	var logs bytes.Buffer
	sum, err := Run(t.Context(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	if sum.Files != 4 || len(f.files()) != 4 {
		t.Errorf("summary %+v, files %v", sum.Counts, sortedKeys(f.files()))
	}
	for _, m := range f.srv.Messages("INBOX") {
		if !slices.Contains(m.Flags, imap.FlagSeen) {
			t.Errorf("message %d not marked seen", m.UID)
		}
	}
	if log := logs.String(); !strings.Contains(log, "the server refused one more connection to this mailbox for now") || !strings.Contains(log, "set the account's max_connections no higher than 1") || !strings.Contains(log, "max_connections=2") {
		t.Errorf("no warning that max_connections is more than the server allows:\n%s", log)
	}
}

// Exchange Online's POP3 answers a RETR now and then with "-ERR Server
// Unavailable. 21", which is its "not now", not a refusal of the message:
// however many scheduled runs meet it, no message is counted as
// undelivered or kept aside as failed, and the mail is all taken once it
// passes.
func TestPOP3ServerUnavailableCostsNoMessage(t *testing.T) {
	log := &commandLog{}
	f := newPOP3Fixture(t, testmail.POP3Options{Fault: log.hook}, [][]byte{scan(1), scan(2), scan(3)}, "batch_size = 1")
	log.set("RETR 2", "-ERR Server Unavailable. 21")
	for run := range maxFetchAttempts + 1 {
		_, err := f.run()
		if err == nil || !mailbox.IsTransient(err) || !strings.Contains(err.Error(), "Server Unavailable. 21") {
			t.Fatalf("run %d: err = %v, want the server's refusal, to retry", run+1, err)
		}
		st, err := state.Load(f.cfg.StateDir, f.cfg.Tasks[0].Name)
		mustT(t, err)
		if len(st.Undelivered) != 0 || len(st.Failed) != 0 {
			t.Fatalf("run %d counted the server's \"not now\" against messages: undelivered %v, failed %+v", run+1, st.Undelivered, st.Failed)
		}
	}
	log.set("RETR 2", "")
	if sum := f.mustRun(); sum.Files != 2 || sum.Failed != 0 {
		t.Errorf("once the server served again: %+v", sum.Counts)
	}
	if n := len(f.files()); n != 3 {
		t.Errorf("%d files, want 3", n)
	}
}
