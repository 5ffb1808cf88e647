package popimap

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/testmail/servers/mailutils"
)

// Tests against a real GNU Mailutils 3.15 (imap4d, pop3d), run from the
// private root .ci/servers unpacks.

const mailutilsPassword = "mu-secret"

// mailutilsConfig points a task at user's mailbox on s over protocol, in
// plain text (the servers run inetd-style without TLS).
func mailutilsConfig(t *testing.T, s *mailutils.Server, protocol, password string, taskTOML ...string) *config.Config {
	t.Helper()
	addr := s.IMAPAddr
	if protocol == config.ProtocolPOP3 {
		addr = s.POP3Addr
	}
	return taskConfig(t, "mu", accountTOML("mu", protocol, addr, config.TLSNone, "", "alice@"+mailutils.Domain, password), taskTOML...)
}

func runMailutils(cfg *config.Config, log *slog.Logger) (Summary, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return Run(ctx, Options{Config: cfg, Task: cfg.Tasks[0], Log: log})
}

// checkSteps runs Check and returns its steps by name.
func checkSteps(t *testing.T, cfg *config.Config) (map[string]CheckStep, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	steps := map[string]CheckStep{}
	ok := Check(ctx, Options{Config: cfg, Task: cfg.Tasks[0]}, func(s CheckStep) { steps[s.Name] = s })
	return steps, ok
}

// imap4d answers "UID SEARCH UID 1:*" with an empty SEARCH although the
// folder holds messages: they must be found all the same, by a run and by
// check, which must not report "0 in INBOX".
func TestMailutilsIMAPFindsEveryMessage(t *testing.T) {
	s := mailutils.Start(t, mailutils.Options{Users: map[string]string{"alice": mailutilsPassword}})
	s.Seed(t, "alice", "INBOX", scan(1), scan(2), scan(3))
	cfg := mailutilsConfig(t, s, config.ProtocolIMAP, mailutilsPassword)

	steps, ok := checkSteps(t, cfg)
	if !ok || !strings.HasPrefix(steps["messages"].Detail, "3 in INBOX") {
		t.Errorf("check: ok %v, messages step %+v; want 3 in INBOX", ok, steps["messages"])
	}
	sum, err := runMailutils(cfg, nil)
	if err != nil || sum.Seen != 3 || sum.Saved != 3 {
		t.Fatalf("run: %+v, %v; want the 3 messages taken", sum, err)
	}
	if n := len(filesIn(t, cfg.Tasks[0].Destination)); n != 3 {
		t.Errorf("%d files, want 3", n)
	}
}

// A run that changes the mailbox opens it read-write, and the rules'
// search over a UID range works there. (imap4d has neither MOVE nor
// UIDPLUS, so after = "move" is refused before anything is taken.)
func TestMailutilsIMAPSeenWithRules(t *testing.T) {
	s := mailutils.Start(t, mailutils.Options{Users: map[string]string{"alice": mailutilsPassword}})
	s.Seed(t, "alice", "INBOX", scan(1), mail{subject: "newsletter"}.raw(), scan(2))
	cfg := mailutilsConfig(t, s, config.ProtocolIMAP, mailutilsPassword, `after = "seen"`, "[task.match]", `subject = ["scan*"]`)
	sum, err := runMailutils(cfg, nil)
	if err != nil || sum.Saved != 2 || sum.Due.After != 0 {
		t.Fatalf("run: %+v, %v; want the two scans taken and marked", sum, err)
	}
	if again, err := runMailutils(cfg, nil); err != nil || again.Seen != 0 {
		t.Errorf("a further run: %+v, %v; want nothing new", again, err)
	}
	moved := mailutilsConfig(t, s, config.ProtocolIMAP, mailutilsPassword, `after = "move"`, `move_to = "Processed"`)
	if _, err := runMailutils(moved, nil); err == nil || !strings.Contains(err.Error(), "neither MOVE nor UIDPLUS") {
		t.Errorf("after = move on imap4d: %v, want it refused up front", err)
	}
}

// On an mbox never opened read-write, imap4d gives every read-only
// session a new UIDVALIDITY (from the clock, so sessions within one
// second share one): the warning says so, and what to do.
func TestMailutilsUIDValidityWarningNamesTheCause(t *testing.T) {
	s := mailutils.Start(t, mailutils.Options{Users: map[string]string{"alice": mailutilsPassword}})
	s.Seed(t, "alice", "INBOX", scan(1))
	cfg := mailutilsConfig(t, s, config.ProtocolIMAP, mailutilsPassword)
	if _, err := runMailutils(cfg, nil); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	// Sessions go on until the server's clock has passed a second, not
	// for a number of them, which a fast machine fits within one second;
	// at least two, which a slow one may not fit within the five.
	for run, deadline := 0, time.Now().Add(5*time.Second); !strings.Contains(log.String(), "UIDVALIDITY changed"); run++ {
		if run >= 2 && time.Now().After(deadline) {
			t.Fatalf("%d read-only sessions over 5 s kept one UIDVALIDITY: the server no longer behaves as this test expects", run)
		}
		sum, err := runMailutils(cfg, slog.New(slog.NewTextHandler(&log, nil)))
		if err != nil || sum.Saved != 0 {
			t.Fatalf("run: %+v, %v; want nothing taken twice", sum, err)
		}
	}
	if !strings.Contains(log.String(), "read-only session") || !strings.Contains(log.String(), "Mailutils") {
		t.Errorf("warning does not name the read-only sessions:\n%s", log.String())
	}
}

// Mailutils' own wording of a wrong password and of a missing folder gets
// a hint, over IMAP and POP3.
func TestMailutilsRefusalsGetHints(t *testing.T) {
	s := mailutils.Start(t, mailutils.Options{Users: map[string]string{"alice": mailutilsPassword}})
	s.Seed(t, "alice", "INBOX", scan(1))
	for _, protocol := range []string{config.ProtocolIMAP, config.ProtocolPOP3} {
		_, err := runMailutils(mailutilsConfig(t, s, protocol, "wrong"), nil)
		if err == nil || !strings.Contains(diagnose.Hint(err), "password") {
			t.Errorf("%s, wrong password: %v, hint %q", protocol, err, diagnose.Hint(err))
		}
	}
	_, err := runMailutils(mailutilsConfig(t, s, config.ProtocolIMAP, mailutilsPassword, `mailbox = "Invoices"`), nil)
	if err == nil || !strings.Contains(diagnose.Hint(err), "folder does not exist") {
		t.Errorf("missing folder: %v, hint %q", err, diagnose.Hint(err))
	}
}

// pop3d serves the same mbox; a delete run empties it.
func TestMailutilsPOP3Delete(t *testing.T) {
	s := mailutils.Start(t, mailutils.Options{Users: map[string]string{"alice": mailutilsPassword}})
	s.Seed(t, "alice", "INBOX", scan(1), scan(2))
	cfg := mailutilsConfig(t, s, config.ProtocolPOP3, mailutilsPassword, `after = "delete"`)
	sum, err := runMailutils(cfg, nil)
	if err != nil || sum.Saved != 2 || sum.Due.After != 0 {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	if n := s.Count(t, "alice", "INBOX"); n != 0 {
		t.Errorf("INBOX holds %d messages after delete", n)
	}
}
