package popimap

import (
	"strings"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/state"
	"mailtask/internal/testmail/servers/courier"
)

// Tests against a real Courier IMAP/POP3 5.0, run from the private root
// .ci/servers unpacks.

const courierPassword = "courier-secret"

// courierConfig points a task at alice's mailbox on s over protocol, in
// plain text.
func courierConfig(t *testing.T, s *courier.Server, protocol string, taskTOML ...string) *config.Config {
	t.Helper()
	addr := s.IMAPAddr
	if protocol == config.ProtocolPOP3 {
		addr = s.POP3Addr
	}
	return taskConfig(t, "courier", accountTOML("courier", protocol, addr, config.TLSNone, "", "alice", courierPassword), taskTOML...)
}

func startCourier(t *testing.T) *courier.Server {
	t.Helper()
	s := courier.Start(t, courier.Options{Users: map[string]string{"alice": courierPassword}})
	s.CreateFolder(t, "alice", "INBOX.Processed")
	return s
}

// Courier has UIDPLUS but no MOVE: a move is a COPY that must succeed
// before anything is flagged or expunged. With the Maildir over its quota
// imapd refuses the COPY ("NO [ALERT] You exceeded your mail quota."):
// the messages are taken, stay in the INBOX and their move stays due, run
// after run, until the quota is lifted; then exactly they are moved, and
// another client's \Deleted message is left alone.
func TestCourierRefusedCopyLosesNothing(t *testing.T) {
	s := startCourier(t)
	taken := [][]byte{scan(1), scan(2), scan(3)}
	s.Seed(t, "alice", "INBOX", "", taken...)
	bystander := mail{subject: "not ours"}.raw()
	s.Seed(t, "alice", "INBOX", "T", bystander)
	s.SetQuota(t, "alice", "1S")
	cfg := courierConfig(t, s, config.ProtocolIMAP, `after = "move"`, `move_to = "INBOX.Processed"`, "[task.match]", `subject = ["scan*"]`)

	sum, err := runOnce(cfg)
	if err == nil || !strings.Contains(err.Error(), "exceeded your mail quota") || sum.Saved != len(taken) || sum.Due.After != len(taken) {
		t.Fatalf("run: %+v, %v; want the messages taken and their move refused and due", sum, err)
	}
	courierUntouched(t, s, len(taken)+1)
	st := courierState(t, cfg)
	if n := st.Due().After; n != len(taken) || !strings.Contains(st.ActionRefused, "quota") {
		t.Fatalf("state: %d due, refusal %q; want %d due, naming the quota", n, st.ActionRefused, len(taken))
	}

	if sum, err := runOnce(cfg); err == nil || sum.Seen != 0 || sum.Due.After != len(taken) {
		t.Fatalf("run while still over quota: %+v, %v; want the move retried, refused and due", sum, err)
	}
	courierUntouched(t, s, len(taken)+1)

	s.ClearQuota(t, "alice")
	if sum, err := runOnce(cfg); err != nil || sum.Seen != 0 || sum.Due.After != 0 {
		t.Fatalf("run with the quota lifted: %+v, %v; want the move done", sum, err)
	}
	processed := s.Messages(t, "alice", "INBOX.Processed")
	if len(processed) != len(taken) {
		t.Fatalf("INBOX.Processed holds %d messages, want the %d taken, once each", len(processed), len(taken))
	}
	for i, raw := range taken {
		if !courier.Contains(processed, raw) {
			t.Errorf("taken message %d is not in INBOX.Processed", i+1)
		}
	}
	if inbox := s.Messages(t, "alice", "INBOX"); len(inbox) != 1 || !courier.Contains(inbox, bystander) || inbox[0].Flags != "T" {
		t.Errorf("INBOX holds %d messages, want only the other client's deleted one", len(inbox))
	}
	if n := len(filesIn(t, cfg.Tasks[0].Destination)); n != len(taken) {
		t.Errorf("%d files, want %d", n, len(taken))
	}
}

// courierUntouched checks that the INBOX still holds n messages and that
// nothing reached INBOX.Processed.
func courierUntouched(t *testing.T, s *courier.Server, n int) {
	t.Helper()
	if inbox, processed := len(s.Messages(t, "alice", "INBOX")), len(s.Messages(t, "alice", "INBOX.Processed")); inbox != n || processed != 0 {
		t.Fatalf("INBOX holds %d, INBOX.Processed %d; want %d and 0: a refused COPY must not cost mail", inbox, processed, n)
	}
}

func courierState(t *testing.T, cfg *config.Config) *state.State {
	t.Helper()
	st, err := state.Load(cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Courier answers MYRIGHTS from its ACLs (maildiracl): without the insert
// right on move_to, check and run refuse the task before anything is
// taken.
func TestCourierMoveToWithoutInsertRightIsRefusedUpFront(t *testing.T) {
	s := startCourier(t)
	s.Seed(t, "alice", "INBOX", "", scan(1))
	s.SetACL(t, "alice", "INBOX.Processed", "owner", "-i")
	cfg := courierConfig(t, s, config.ProtocolIMAP, `after = "move"`, `move_to = "INBOX.Processed"`)

	steps, ok := checkSteps(t, cfg)
	if ok || steps["select"].Err == nil || !strings.Contains(steps["select"].Err.Error(), `"i" right`) {
		t.Fatalf("check: ok %v, select step %+v; want the missing i right on move_to named", ok, steps["select"])
	}
	if _, err := runOnce(cfg); err == nil || !strings.Contains(err.Error(), `move_to folder "INBOX.Processed"`) {
		t.Fatalf("run: %v; want it refused naming move_to", err)
	}
	if n := len(filesIn(t, cfg.Tasks[0].Destination)); n != 0 {
		t.Errorf("%d files written by a task that cannot move its mail", n)
	}
}

// courierpop3d serves the same Maildir: a delete run takes and empties it.
func TestCourierPOP3Delete(t *testing.T) {
	s := startCourier(t)
	s.Seed(t, "alice", "INBOX", "", scan(1), scan(2))
	cfg := courierConfig(t, s, config.ProtocolPOP3, `after = "delete"`)
	if sum, err := runOnce(cfg); err != nil || sum.Saved != 2 || sum.Due.After != 0 {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	if n := len(s.Messages(t, "alice", "INBOX")); n != 0 {
		t.Errorf("INBOX holds %d messages after delete", n)
	}
	if n := len(filesIn(t, cfg.Tasks[0].Destination)); n != 2 {
		t.Errorf("%d files, want 2", n)
	}
}
