package popimap

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/push"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/mox"
)

// Tests against a real mox v0.0.15, a server written in Go from the
// RFCs (IMAP4rev2, ESEARCH, CONDSTORE, MOVE, UIDPLUS, its own SEARCH),
// in pedantic mode: one server and one account for them all
// (internal/testmail/mox), each test in folders of its own.

// moxBox is a test's folder, made empty, in the account of the mox tests.
type moxBox struct {
	s      *mox.Server
	a      mox.Account
	folder string
}

// newMoxBox makes t's folder, named for t, and the further folders
// given by suffix ("-done" makes folder+"-done").
func newMoxBox(t *testing.T, suffixes ...string) moxBox {
	t.Helper()
	s := mox.Shared(t)
	b := moxBox{s: s, a: s.SharedAccount(t), folder: strings.ReplaceAll(t.Name(), "/", "-")}
	folders := []string{b.folder}
	for _, suffix := range suffixes {
		folders = append(folders, b.folder+suffix)
	}
	s.Create(t, b.a, folders...)
	return b
}

// config points a task at the folder, in plain text.
func (b moxBox) config(t *testing.T, taskTOML ...string) *config.Config {
	t.Helper()
	return taskConfig(t, "mox", accountTOML("mox", config.ProtocolIMAP, b.s.IMAPAddr, config.TLSNone, "", b.a.Address, b.a.Password),
		append([]string{fmt.Sprintf("mailbox = %q", b.folder)}, taskTOML...)...)
}

// append adds raws to the folder.
func (b moxBox) append(t *testing.T, raws ...[]byte) {
	t.Helper()
	b.s.Append(t, b.a, b.folder, nil, raws...)
}

// The shapes of real-world mail come out of mox as out of Dovecot: each
// message's files are the ones its fixture names, its .eml the message
// byte for byte, automatic mail skipped; a second run takes nothing.
// make test takes every other shape and the mbox From line, whose first
// line a server may take for a separator (the whole corpus cost 1.8
// CPU-s here); make soak takes them all.
func TestMoxFidelity(t *testing.T) {
	b := newMoxBox(t)
	var corpus []testmail.Fixture
	for i, fx := range testmail.FidelityCorpus() {
		if testmail.Soak() || i%2 == 0 || strings.HasPrefix(fx.Name, "mbox-from-line") {
			corpus = append(corpus, fx)
		}
	}
	raws := make([][]byte, len(corpus))
	automatic := 0
	for i, fx := range corpus {
		raws[i] = fx.Raw
		if fx.Automatic != "" {
			automatic++
		}
	}
	b.append(t, raws...)
	cfg := b.config(t, fidelityTask()...)
	if sum := runCfg(t, cfg); sum.Saved != len(corpus)-automatic || sum.Unmatched != automatic || sum.Failed != 0 {
		t.Fatalf("run: %+v, want %d automatic messages not matching and the rest saved", sum, automatic)
	}
	root := strings.TrimSuffix(cfg.Tasks[0].Destination, "/{message_id}")
	checkFidelity(t, corpus, root, filesIn(t, root))
	if again := runCfg(t, cfg); again.Seen != 0 || again.Files != 0 {
		t.Errorf("re-run: %+v", again)
	}
}

// Every after action, and what mox holds afterwards: the messages
// flagged or keyworded in place, moved byte for byte, or expunged.
func TestMoxAfterActions(t *testing.T) {
	taken := [][]byte{scan(1), scan(2), scan(3)}
	for _, c := range []struct {
		after string
		more  string    // the action's other key
		left  int       // messages left in the folder
		flag  imap.Flag // which each has
		moved int
	}{
		{"seen", "", 3, imap.FlagSeen, 0},
		{"flag", "", 3, imap.FlagFlagged, 0},
		{"keyword", `keyword = "$Processed"`, 3, "$Processed", 0},
		{"move", "", 0, "", 3},
		{"delete", "", 0, "", 0},
	} {
		t.Run(c.after, func(t *testing.T) {
			b := newMoxBox(t, "-done")
			done := b.folder + "-done"
			b.append(t, taken...)
			more := c.more
			if c.after == "move" {
				more = fmt.Sprintf("move_to = %q", done)
			}
			cfg := b.config(t, fmt.Sprintf("after = %q", c.after), more)
			if sum := runCfg(t, cfg); sum.Saved != 3 || sum.Due.After != 0 {
				t.Fatalf("run: %+v; want 3 taken and acted on", sum)
			}
			left, moved := b.s.Messages(t, b.a, b.folder), b.s.Messages(t, b.a, done)
			if len(left) != c.left || len(moved) != c.moved {
				t.Fatalf("%s holds %d, %s %d; want %d and %d", b.folder, len(left), done, len(moved), c.left, c.moved)
			}
			for _, m := range left {
				if !hasFlag(m.Flags, c.flag) {
					t.Errorf("UID %d flags %v, want %s", m.UID, m.Flags, c.flag)
				}
				if c.flag != imap.FlagSeen && hasFlag(m.Flags, imap.FlagSeen) {
					t.Errorf("UID %d was marked \\Seen: %v", m.UID, m.Flags)
				}
			}
			for i, m := range moved {
				if !bytes.Equal(m.Raw, taken[i]) {
					t.Errorf("moved message %d is not taken message %d", i+1, i+1)
				}
			}
			if n := len(filesIn(t, cfg.Tasks[0].Destination)); n != 3 {
				t.Errorf("%d files, want 3", n)
			}
			if again := runCfg(t, cfg); again.Seen != 0 {
				t.Errorf("re-run: %+v", again)
			}
		})
	}
}

// The globs of [task.match] go into mox's UID SEARCH as substrings, which
// mox looks for in the raw header field (after unfolding), while
// mailtask's rules judge the decoded one. Whatever the search says, the
// task takes exactly what its rules match: an encoded word hides a
// subject or a display name from the raw text, and a substring found
// where the glob does not match is refused on the header.
func TestMoxSearchTakesWhatTheRulesMatch(t *testing.T) {
	b := newMoxBox(t)
	msgs := []struct {
		m    mail
		take bool
	}{
		{mail{subject: "Invoice 1"}, true},
		{mail{subject: "INVOICE 2"}, true},                                                      // globs ignore case; so does mox's search
		{mail{subject: "=?UTF-8?B?SW52b2ljZSAz?="}, true},                                       // "Invoice 3", base64
		{mail{subject: "=?ISO-8859-1?Q?Invoice_4_f=FCr_M=E4rz?="}, true},                        // "Invoice 4 für März"
		{mail{subject: "Invoice\r\n 5"}, true},                                                  // folded
		{mail{subject: "Re: Invoice 6"}, false},                                                 // the substring, not the glob
		{mail{subject: "Invoice 7", from: "x@acme.example.evil"}, false},                        // the substring, not the glob
		{mail{subject: "Newsletter"}, false},                                                    // left out by the search
		{mail{subject: "Invoice 9", from: "=?UTF-8?Q?M=C3=BCller?= <m@contoso.example>"}, true}, // the display name
	}
	raws := make([][]byte, len(msgs))
	for i, m := range msgs {
		raws[i] = m.m.raw()
	}
	b.append(t, raws...)
	cfg := b.config(t, `destination = "dest"`, "[task.output]", "eml = true", `message_name = "{uid}"`, `file_name = "{uid}-{name}"`,
		"[task.match]", `from = ["*@acme.example", "Müller"]`, `subject = "Invoice *"`)
	sum := runCfg(t, cfg)
	var want []string
	for i, m := range msgs {
		if m.take {
			want = append(want, fmt.Sprintf("%d.eml", i+1))
		}
	}
	if got := sortedKeys(filesIn(t, cfg.Tasks[0].Destination)); !slices.Equal(got, want) {
		t.Errorf("took %v, want %v (summary %+v)", got, want, sum)
	}
	st, err := state.Load(cfg.StateDir, "t")
	mustT(t, err)
	if all := judged(st); all.Len() != uint64(len(msgs)) {
		t.Errorf("done or settling %s, want all %d UIDs", all.String(), len(msgs))
	}
}

// mox searches raw header text: a quarantine notice whose subject is an
// encoded word (a custom sender's, so the subject alone tells it) is
// found among what a from rule's search leaves out by the encoded word
// the notice search ORs in, as Microsoft's notice is by its sender and a
// person's forward by its subject. Their headers alone are read: the
// notices are warned of and counted, the forward is not, and none is
// downloaded (Microsoft's would say it holds 2).
func TestMoxNoticeLeftOutBySearch(t *testing.T) {
	b := newMoxBox(t)
	notice, forward := quarantineFixtures(t)
	var custom []byte
	for _, fx := range testmail.FidelityCorpus() {
		if fx.Name == "m365-quarantine-notice-custom-sender" {
			custom = fx.Raw
		}
	}
	const subject = "Microsoft 365 security: You have messages in quarantine"
	encoded := bytes.Replace(custom, []byte("Subject: "+subject), []byte("Subject: =?UTF-8?B?"+base64.StdEncoding.EncodeToString([]byte(subject))+"?="), 1)
	if bytes.Equal(encoded, custom) {
		t.Fatal("the custom sender's notice has no subject to encode")
	}
	b.append(t, append(prefilterMails(), notice, forward, encoded)...)
	cfg := b.config(t, "[task.match]", `from = "*@acme.example"`)
	settleAtOnce(cfg)
	searchAll(cfg) // the notice search among what mox's search leaves out
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	sum, err := Run(ctx, Options{Config: cfg, Task: cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Seen != 4 || sum.Saved != 4 {
		t.Errorf("%s; want Acme's 4 downloaded and taken", sum.Counts.Summary(false))
	}
	if want := []Notice{{Key: "uid:5"}, {Key: "uid:7"}}; !slices.Equal(sum.Notices, want) {
		t.Errorf("notices %+v, want %+v: Microsoft's and the custom sender's, their bodies unread", sum.Notices, want)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 2 {
		t.Errorf("%d warnings, want the 2 notices':\n%s", n, logs.String())
	}
}

// A run records the folder's UIDVALIDITY and takes only what came after
// it; when the folder is made again (mox gives it a new UIDVALIDITY), the
// next run starts over in the new epoch and recognises what it had
// written, taking only the new message.
func TestMoxUIDValidityChange(t *testing.T) {
	b := newMoxBox(t)
	b.append(t, scan(1), scan(2))
	cfg := b.config(t)
	if sum := runCfg(t, cfg); sum.Saved != 2 {
		t.Fatalf("first run: %+v", sum)
	}
	first := b.uidValidity(t)
	st, err := state.Load(cfg.StateDir, "t")
	mustT(t, err)
	if st.UIDValidity != first {
		t.Fatalf("state's UIDVALIDITY %d, the server's %d", st.UIDValidity, first)
	}
	b.append(t, scan(3))
	if sum := runCfg(t, cfg); sum.Saved != 1 || sum.Seen != 1 {
		t.Fatalf("run after one more message: %+v; want it alone", sum)
	}

	c := b.s.Login(t, b.a)
	mustT(t, c.Delete(b.folder).Wait())
	mustT(t, c.Create(b.folder, nil).Wait())
	b.append(t, scan(1), scan(2), scan(3), scan(4))
	second := b.uidValidity(t)
	if second == first {
		t.Fatalf("mox kept UIDVALIDITY %d for the folder made again", first)
	}
	sum := runCfg(t, cfg)
	if sum.Seen != 4 || sum.Files != 1 {
		t.Errorf("run in the new epoch: %+v; want 4 looked at, 1 new file", sum)
	}
	if n := len(filesIn(t, cfg.Tasks[0].Destination)); n != 4 {
		t.Errorf("%d files, want 4", n)
	}
	st, err = state.Load(cfg.StateDir, "t")
	mustT(t, err)
	if st.UIDValidity != second {
		t.Errorf("state's UIDVALIDITY %d, the server's %d", st.UIDValidity, second)
	}
}

func (b moxBox) uidValidity(t *testing.T) uint32 {
	t.Helper()
	data, err := b.s.Login(t, b.a).Status(b.folder, &imap.StatusOptions{UIDValidity: true}).Wait()
	mustT(t, err)
	return data.UIDValidity
}

// check's steps against mox over STARTTLS: every step passes and the
// count is the folder's. With a wrong password it stops at the sign-in,
// with mox's refusal, which is not worth retrying.
func TestMoxCheck(t *testing.T) {
	b := newMoxBox(t)
	b.append(t, scan(1), scan(2), scan(3))
	check := func(password string) ([]string, map[string]CheckStep, bool) {
		cfg := taskConfig(t, "mox", accountTOML("mox", config.ProtocolIMAP, b.s.IMAPAddr, config.TLSStartTLS, b.s.CAFile, b.a.Address, password),
			fmt.Sprintf("mailbox = %q", b.folder))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var names []string
		steps := map[string]CheckStep{}
		ok := Check(ctx, Options{Config: cfg, Task: cfg.Tasks[0]}, func(s CheckStep) {
			names = append(names, s.Name)
			steps[s.Name] = s
		})
		return names, steps, ok
	}
	names, steps, ok := check(b.a.Password)
	if !ok || !slices.Equal(names, []string{"connect", "TLS", "authenticate", "list folders", "select", "messages"}) {
		t.Fatalf("check: ok %v, steps %+v", ok, steps)
	}
	if d, want := steps["messages"].Detail, "3 in "+b.folder; !strings.HasPrefix(d, want) {
		t.Errorf("messages step %q, want %q", d, want)
	}
	if d := steps["authenticate"].Detail; !strings.Contains(d, b.a.Address) {
		t.Errorf("authenticate step %+v does not name %s", steps["authenticate"], b.a.Address)
	}

	names, steps, ok = check("wrong-" + b.a.Password)
	refusal := steps["authenticate"].Err
	if ok || names[len(names)-1] != "authenticate" || refusal == nil || mailbox.IsTransient(refusal) {
		t.Errorf("check with a wrong password: ok %v, steps %v, refusal %v (transient %v); want it to stop at authenticate, not transient",
			ok, names, refusal, mailbox.IsTransient(refusal))
	}
}

// moxWatch runs the daemon's IDLE watcher on cfg's task, with runs of
// the task for its triggers and the account's max_connections as slots,
// as the scheduler would give them. A run waits for a slot when none is
// free (the watcher then lends its own), and afterRun is called with
// the run's number (from 1) once it has ended but before the watcher is
// told so.
type moxWatch struct {
	w      *push.Watcher
	runs   chan moxRun
	idling chan struct{}
	ctx    context.Context
}

type moxRun struct {
	arrived time.Time
	sum     Summary
	err     error
}

func startMoxWatch(t *testing.T, cfg *config.Config, afterRun func(n int)) *moxWatch {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	m := &moxWatch{runs: make(chan moxRun, 10), idling: make(chan struct{}, 100), ctx: ctx}
	slots := make(chan struct{}, cfg.Accounts["mox"].MaxConnections)
	take := func(ctx context.Context) (func(), bool) {
		select {
		case slots <- struct{}{}:
			return func() { <-slots }, true
		case <-ctx.Done():
			return nil, false
		}
	}
	n := 0
	m.w = push.Start(ctx, push.Options{
		Config: cfg, Task: cfg.Tasks[0], Slot: take,
		// The test appends only between runs: no trigger comes while one
		// goes, which the scheduler would fold into it.
		Trigger: func(arrived time.Time) (bool, <-chan struct{}) {
			ended := make(chan struct{})
			starved := true
			select {
			case slots <- struct{}{}:
				starved = false
			default:
			}
			n++
			go func(n int) {
				defer close(ended)
				if starved {
					if _, ok := take(ctx); !ok {
						return
					}
				}
				sum, err := Run(ctx, Options{Config: cfg, Task: cfg.Tasks[0]})
				<-slots
				afterRun(n)
				m.runs <- moxRun{arrived, sum, err}
			}(n)
			return starved, ended
		},
		Report: func(st push.Status) {
			if st.State == push.Idling {
				m.idling <- struct{}{}
			}
		},
	})
	t.Cleanup(m.w.Stop)
	return m
}

// next waits for the next run and returns it.
func (m *moxWatch) next(t *testing.T, what string) moxRun {
	t.Helper()
	select {
	case r := <-m.runs:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r
	case <-m.ctx.Done():
		t.Fatalf("%s: no run (watcher %+v)", what, m.w.Status())
		return moxRun{}
	}
}

// idle waits for the watcher to report that it idles.
func (m *moxWatch) idle(t *testing.T) {
	t.Helper()
	select {
	case <-m.idling:
	case <-m.ctx.Done():
		t.Fatalf("the watcher never idled: %+v", m.w.Status())
	}
}

// stop stops the watcher and checks it ended without a failure.
func (m *moxWatch) stop(t *testing.T) {
	t.Helper()
	m.w.Stop()
	if st := m.w.Status(); st.State != push.Stopped || st.Failures != 0 {
		t.Errorf("after Stop: %+v", st)
	}
}

// The daemon's IDLE path against mox: the watcher signs in, EXAMINEs the
// INBOX and idles; a message APPENDed by another client is reported
// (EXISTS), and the run it asks for takes it.
func TestMoxIdleRunsTheTaskOnNewMail(t *testing.T) {
	b := newMoxBox(t)
	cfg := b.config(t, "idle = true")
	m := startMoxWatch(t, cfg, func(int) {})
	if r := m.next(t, "the run after connecting"); !r.arrived.IsZero() || r.sum.Seen != 0 {
		t.Errorf("the run after connecting: arrival %v, %+v", r.arrived, r.sum.Counts)
	}
	m.idle(t)
	b.append(t, scan(1))
	if r := m.next(t, "the run for the new mail"); r.arrived.IsZero() || r.sum.Saved != 1 {
		t.Errorf("the run for the new mail: arrival %v, %+v; want the scan taken", r.arrived, r.sum.Counts)
	}
	if n := len(filesIn(t, cfg.Tasks[0].Destination)); n != 1 {
		t.Errorf("%d files, want 1", n)
	}
	m.stop(t)
}

// With one connection for the account, the watcher logs out for each run
// and comes back after it: mail that arrived meanwhile, which no IDLE
// saw, moved mox's UIDNEXT, and the watcher runs the task once more for
// it. Coming back to a folder whose UIDNEXT stayed, it runs nothing.
func TestMoxIdleLentConnectionComesBackByUIDNext(t *testing.T) {
	b := newMoxBox(t)
	cfg := b.config(t, "idle = true")
	cfg.Accounts["mox"].MaxConnections = 1
	m := startMoxWatch(t, cfg, func(n int) {
		if n == 2 { // the run for the first scan: the watcher is away
			b.append(t, scan(2))
		}
	})
	if r := m.next(t, "the run after connecting"); r.sum.Seen != 0 {
		t.Errorf("the run after connecting: %+v", r.sum.Counts)
	}
	m.idle(t) // back, without a run: UIDNEXT stayed
	b.append(t, scan(1))
	if r := m.next(t, "the run for the new mail"); r.arrived.IsZero() || r.sum.Saved != 1 {
		t.Errorf("the run for the new mail: arrival %v, %+v; want the first scan taken", r.arrived, r.sum.Counts)
	}
	if r := m.next(t, "the run for UIDNEXT"); !r.arrived.IsZero() || r.sum.Saved != 1 {
		t.Errorf("the run for UIDNEXT: arrival %v, %+v; want the second scan taken", r.arrived, r.sum.Counts)
	}
	m.idle(t)
	select {
	case r := <-m.runs:
		t.Errorf("a run after coming back to a folder that stayed: %+v", r.sum.Counts)
	default:
	}
	if n := len(filesIn(t, cfg.Tasks[0].Destination)); n != 2 {
		t.Errorf("%d files, want 2", n)
	}
	m.stop(t)
}
