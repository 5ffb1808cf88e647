package popimap

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/outcome"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// quarantineFixtures are, from testmail's fidelity corpus, Microsoft's
// quarantine notice listing 2 held messages and a person's forward of one.
func quarantineFixtures(t *testing.T) (notice, forward []byte) {
	t.Helper()
	for _, fx := range testmail.FidelityCorpus() {
		switch fx.Name {
		case "m365-quarantine-notice":
			notice = fx.Raw
		case "person-forwards-quarantine-notice":
			forward = fx.Raw
		}
	}
	if notice == nil || forward == nil {
		t.Fatal("the corpus lacks the quarantine notice or its forward")
	}
	return notice, forward
}

// A quarantine notice is taken as the task's rules say, like the mail
// beside it (its .eml written, deleted after), and warned about: the log
// names the task, the account, the mailbox, how many messages are held
// and where to release them; a dry run lists it. A person's forward of a
// notice is not one.
func TestQuarantineNoticeWarned(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, `after = "delete"`, "[task.output]", "eml = true")
	notice, forward := quarantineFixtures(t)
	f.append(forward, notice, testmail.PDFMessage("invoice.pdf"))

	dry, err := Run(t.Context(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Notices) != 1 || dry.Notices[0] != (Notice{Key: "uid:2", Held: 2}) {
		t.Errorf("dry run: notices %+v, want uid:2 holding 2", dry.Notices)
	}

	var logs bytes.Buffer
	sum, err := Run(t.Context(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Saved != 3 || len(sum.Notices) != 1 || sum.Notices[0].Held != 2 {
		t.Errorf("%s, notices %+v; want 3 saved, one notice holding 2", sum.Counts.Summary(false), sum.Notices)
	}
	// The run's record keeps the notice, for `mailtask status` and the
	// digest.
	if st, err := state.Load(f.cfg.StateDir, "t"); err != nil || st.LastRun == nil || st.LastRun.QuarantineNotices != 1 {
		t.Errorf("the run's record: %+v (err %v), want 1 quarantine notice", st.LastRun, err)
	}
	if emls := countSuffix(f.files(), ".eml"); emls != 3 {
		t.Errorf("%d .eml files, want the notice's beside the others", emls)
	}
	if left := f.srv.Messages("INBOX"); len(left) != 0 {
		t.Errorf("%d messages left on the server; after = \"delete\" takes the notice too", len(left))
	}
	for _, want := range []string{
		`level=WARN msg="Microsoft 365 holds 2 messages for this mailbox in quarantine; mailtask never sees mail held there, nor releases any" task=t msg=uid:2 account=` + testUser + ` mailbox=INBOX from=quarantine@messaging.microsoft.com`,
		`hint="review it in the Microsoft Defender portal (Email & collaboration > Review > Quarantine)`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %s:\n%s", want, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want the notice's alone:\n%s", n, logs.String())
	}
}

func countSuffix(files map[string]string, suffix string) int {
	n := 0
	for name := range files {
		if strings.HasSuffix(name, suffix) {
			n++
		}
	}
	return n
}

// Against Dovecot, over IMAP (BODY.PEEK[HEADER]) and POP3 (TOP n 0), a
// quarantine notice that the rules on headers refuse is still recognised
// from its header, warned about and counted, though never downloaded;
// the run's record keeps it (Held 0: its body, which says how many are
// held, was never read). One the rules let through is downloaded and
// counted once, with what its body says is held.
func TestDovecotNoticeRefusedOnItsHeader(t *testing.T) {
	notice, _ := quarantineFixtures(t)
	d := dovecot.Start(t, dovecot.Options{})
	d.Seed(t, d.User, "INBOX", append(prefilterMails(), notice)...)
	for _, c := range []struct {
		rule string
		want outcome.Counts
		held int // what the notice's body says, 0 when it was not read
	}{
		{`subject_regex = "^Invoice \\d+$"`, outcome.Counts{Seen: 5, Saved: 2, Unmatched: 3}, 0},
		{`subject_regex = "^(Invoice \\d+|Microsoft 365 security: .*)$"`, outcome.Counts{Seen: 5, Saved: 3, Unmatched: 2}, 2},
	} {
		for _, protocol := range []string{config.ProtocolIMAP, config.ProtocolPOP3} {
			cfg := dovecotProtocolConfig(t, d, protocol, "[task.match]", c.rule)
			var logs bytes.Buffer
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			sum, err := Run(ctx, Options{Config: cfg, Task: cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
			cancel()
			if err != nil {
				t.Fatalf("%s, %s: %v", protocol, c.rule, err)
			}
			if sum.Seen != c.want.Seen || sum.Saved != c.want.Saved || sum.Unmatched != c.want.Unmatched || len(sum.Notices) != 1 || sum.Notices[0].Held != c.held {
				t.Errorf("%s, %s: %s, notices %+v; want %d new, %d saved, %d not matching and one notice, holding %d",
					protocol, c.rule, sum.Counts.Summary(false), sum.Notices, c.want.Seen, c.want.Saved, c.want.Unmatched, c.held)
			}
			if n := strings.Count(logs.String(), `level=WARN msg="Microsoft 365 holds`); n != 1 {
				t.Errorf("%s, %s: %d warnings of the notice, want 1:\n%s", protocol, c.rule, n, logs.String())
			}
			st, err := state.Load(cfg.StateDir, "t")
			if err != nil || st.LastNotice == nil || st.LastNotice.Notices != 1 || st.LastNotice.Held != c.held {
				t.Errorf("%s, %s: the task's last notice %+v (err %v), want 1 notice holding %d", protocol, c.rule, st.LastNotice, err, c.held)
			}
		}
	}
}

// Against Dovecot, over IMAP, a rule the server searches for (subject =
// "Invoice *") leaves the quarantine notices out of the listing; a
// search of their own finds them among what it left out, and their
// headers alone are read, with those the rules need read if any: each is
// warned of and counted once, in the run's record and the task's last
// notice, and none is downloaded (Dovecot's log of the session:
// hdr_count, body_count). A person's forward, which the notice search
// lets through by its subject, is no notice. A notice the rules take is
// downloaded and counted once. The invoices are taken as without the
// notices, and the next run finds nothing to warn of. Each case has a
// mailbox of its own.
func TestDovecotNoticeLeftOutBySearch(t *testing.T) {
	notice, forward := quarantineFixtures(t)
	var custom []byte
	for _, fx := range testmail.FidelityCorpus() {
		if fx.Name == "m365-quarantine-notice-custom-sender" {
			custom = fx.Raw
		}
	}
	// UIDs 1 to 4 are prefilterMails: Invoice 1, Newsletter March,
	// Invoice 2, Re: Invoice 1.
	mails := append(prefilterMails(), notice, forward, custom)
	cases := []struct {
		rules   []string
		want    outcome.Counts
		notices []Notice
		// headers and messages Dovecot sent
		headers, bodies int
		// flags: server_search left at its default, the flags alone;
		// the other cases trust Dovecot's search with every rule.
		flags bool
	}{
		// The search's 1, 3 and 4 downloaded ("Re: Invoice 1" refused
		// then); the notice search finds 5, 6 and 7.
		{[]string{`subject = "Invoice *"`}, outcome.Counts{Seen: 3, Saved: 2, Unmatched: 1}, []Notice{{Key: "uid:5"}, {Key: "uid:7"}}, 3, 3, false},
		// And a rule SEARCH cannot express, on the From address: 1, 3
		// and 4 are judged on their headers, read with those of 5, 6 and
		// 7, and 4 is refused there.
		{[]string{`subject = "Invoice *"`, `from_regex = "@"`}, outcome.Counts{Seen: 3, Saved: 2, Unmatched: 1}, []Notice{{Key: "uid:5"}, {Key: "uid:7"}}, 6, 2, false},
		// The rules take the notices: downloaded, each counted once, with
		// what its body says is held; the forward is downloaded and
		// refused; the newsletter alone is left out, and the notice
		// search finds nothing in it.
		{[]string{`subject = ["Invoice *", "Microsoft 365 security: *"]`}, outcome.Counts{Seen: 6, Saved: 4, Unmatched: 2}, []Notice{{Key: "uid:5", Held: 2}, {Key: "uid:7"}}, 0, 6, false},
		// By default the search holds unseen_only alone, which leaves out
		// nothing here: every header is read, the subject rule refuses
		// the newsletter, "Re: Invoice 1" and the notices there, and the
		// two invoices alone are downloaded.
		{[]string{`subject = "Invoice *"`, "unseen_only = true"}, outcome.Counts{Seen: 7, Saved: 2, Unmatched: 5}, []Notice{{Key: "uid:5"}, {Key: "uid:7"}}, 7, 2, true},
	}
	users := map[string]string{}
	for i := range cases {
		users[fmt.Sprint("user", i)] = "pass"
	}
	d := dovecot.Start(t, dovecot.Options{Users: users})
	for i, c := range cases {
		user := fmt.Sprint("user", i)
		d.Seed(t, user, "INBOX", mails...)
		cfg := dovecotUserConfig(t, d, config.ProtocolIMAP, user, "pass", append([]string{"connections = 1", "[task.match]"}, c.rules...)...)
		settleAtOnce(cfg)
		if !c.flags {
			searchAll(cfg) // the notice search among what Dovecot's search leaves out
		}
		var logs bytes.Buffer
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		sum, err := Run(ctx, Options{Config: cfg, Task: cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatalf("%v: %v", c.rules, err)
		}
		if sum.Seen != c.want.Seen || sum.Saved != c.want.Saved || sum.Unmatched != c.want.Unmatched {
			t.Errorf("%v: %s; want %d new, %d saved, %d not matching", c.rules, sum.Counts.Summary(false), c.want.Seen, c.want.Saved, c.want.Unmatched)
		}
		if got := filesIn(t, cfg.Tasks[0].Destination); len(got) != 2 || got["one.pdf"] == "" || got["two.pdf"] == "" {
			t.Errorf("%v: files %v, want one.pdf and two.pdf", c.rules, sortedKeys(got))
		}
		if !slices.Equal(sum.Notices, c.notices) {
			t.Errorf("%v: notices %+v, want %+v: Microsoft's and the custom sender's", c.rules, sum.Notices, c.notices)
		}
		if n := strings.Count(logs.String(), `level=WARN msg="Microsoft 365 holds`); n != 2 {
			t.Errorf("%v: %d warnings of a notice, want 2:\n%s", c.rules, n, logs.String())
		}
		st, err := state.Load(cfg.StateDir, "t")
		if err != nil || st.LastRun == nil || st.LastRun.QuarantineNotices != 2 || st.LastNotice == nil || st.LastNotice.Notices != 2 {
			t.Errorf("%v: the run's record %+v, the task's last notice %+v (err %v); want 2 notices in each", c.rules, st.LastRun, st.LastNotice, err)
		}
		if err == nil && st.Done.Len() != uint64(len(mails)) {
			t.Errorf("%v: done %s, want all %d UIDs", c.rules, st.Done.String(), len(mails))
		}
		// BODY.PEEK[HEADER] counts in hdr_count, BODY.PEEK[] in body_count.
		logout := regexp.MustCompile(`imap\(` + user + `\).*Logged out .* hdr_count=(\d+) .* body_count=(\d+)`)
		if sessions := dovecotLogouts(t, d, logout, 1); len(sessions) != 1 || !slices.Equal(sessions[0], []int{c.headers, c.bodies}) {
			t.Errorf("%v: Dovecot's sessions sent (headers, messages) %v, want one session sending %d headers and %d messages", c.rules, sessions, c.headers, c.bodies)
		}
		logs.Reset()
		again, err := Run(ctx, Options{Config: cfg, Task: cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil || again.Seen != 0 || len(again.Notices) != 0 || strings.Contains(logs.String(), "level=WARN") {
			t.Errorf("%v: second run: %s, notices %+v, %v; want nothing new, no warning:\n%s", c.rules, again.Counts.Summary(false), again.Notices, err, logs.String())
		}
	}
}

// The in-process server's search finds the notice the rules' search left
// out, as Dovecot's does. It is recorded as done with the rest of what
// that search left out: a run that fails after reading its header (the
// server drops the connection at the download) warned of it, and the
// next run, which takes the invoices, does not warn of it again. Neither
// downloads it.
func TestNoticeLeftOutBySearchWarnedOnce(t *testing.T) {
	notice, _ := quarantineFixtures(t)
	var fetches atomic.Int32
	f := newFixture(t, testmail.IMAPOptions{Fault: func(cmd string) error {
		// The first FETCH of a section is the notice's header, the second
		// the first run's download.
		if cmd == "FETCH" && fetches.Add(1) == 2 {
			return testmail.ErrDrop
		}
		return nil
	}}, "[task.match]", `subject = "Invoice *"`)
	settleAtOnce(f.cfg)
	uids := f.appendUIDs(append(prefilterMails(), notice)...)
	var (
		warned []int
		sums   []Summary
		failed []bool
	)
	for range 2 {
		var logs bytes.Buffer
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		sum, err := Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
		cancel()
		warned = append(warned, strings.Count(logs.String(), `level=WARN msg="Microsoft 365 holds some messages`))
		sums = append(sums, sum)
		failed = append(failed, err != nil)
	}
	if !slices.Equal(failed, []bool{true, false}) {
		t.Errorf("runs failed: %v; want the first alone to", failed)
	}
	if !slices.Equal(warned, []int{1, 0}) || len(sums[0].Notices) != 1 || len(sums[1].Notices) != 0 {
		t.Errorf("the runs warned %v times, met notices %+v and %+v; want the first alone to warn of the notice", warned, sums[0].Notices, sums[1].Notices)
	}
	if sums[1].Saved != 2 {
		t.Errorf("second run: %s, want the 2 invoices saved", sums[1].Counts.Summary(false))
	}
	if slices.Contains(f.srv.FetchedUIDs(), uids[4]) {
		t.Errorf("downloaded UIDs %v include the notice's, %d", f.srv.FetchedUIDs(), uids[4])
	}
}

// largeNotice is Microsoft's quarantine notice as an admin may send it,
// with a logo that makes it larger than 1 MiB.
func largeNotice(t *testing.T) []byte {
	notice, _ := quarantineFixtures(t)
	header, body, _ := bytes.Cut(notice, []byte("\r\n\r\n"))
	header, alternative, _ := bytes.Cut(header, []byte("\r\nContent-Type: "))
	logo := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("\x89PNG"), 400_000))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\r\nContent-Type: multipart/related; boundary=\"logo\"\r\n\r\n--logo\r\nContent-Type: %s\r\n\r\n%s\r\n", header, alternative, body)
	fmt.Fprintf(&b, "--logo\r\nContent-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n--logo--\r\n", logo)
	return b.Bytes()
}

// A quarantine notice larger than max_message_size is kept aside like any
// such message, never downloaded, and recognised on the header the run
// reads for it: warned of once and counted, in a dry run too, and kept
// in the run's record.
func TestLargeNoticeRecognisedWhenSetAside(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, `max_message_size = "1MiB"`)
	f.append(largeNotice(t), testmail.PDFMessage("invoice.pdf"))

	dry, err := Run(t.Context(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Notices) != 1 || dry.Notices[0] != (Notice{Key: "uid:1"}) {
		t.Errorf("dry run: notices %+v, want uid:1, its count unread", dry.Notices)
	}
	var logs bytes.Buffer
	sum, err := Run(t.Context(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Saved != 1 || sum.Failed != 1 || len(sum.Notices) != 1 || sum.Notices[0].Key != "uid:1" {
		t.Errorf("%s, notices %+v; want the invoice saved, the notice kept aside and counted", sum.Counts.Summary(false), sum.Notices)
	}
	if st, err := state.Load(f.cfg.StateDir, "t"); err != nil || st.LastRun == nil || st.LastRun.QuarantineNotices != 1 {
		t.Errorf("the run's record: %+v (err %v), want 1 quarantine notice", st.LastRun, err)
	}
	if n := strings.Count(logs.String(), "for this mailbox in quarantine; mailtask never sees mail held there"); n != 1 {
		t.Errorf("the notice warned of %d times, want once:\n%s", n, logs.String())
	}
	if fetched := f.srv.FetchedUIDs(); slices.Contains(fetched, 1) {
		t.Errorf("downloaded %v: the notice is larger than max_message_size", fetched)
	}
}
