package popimap

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
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
