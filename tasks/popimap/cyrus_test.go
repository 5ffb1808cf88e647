package popimap

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/state"
	"mailtask/internal/testmail/servers/cyrus"
)

// Tests against a real Cyrus IMAP 3.6 (imapd, pop3d), run from the
// private root .ci/servers unpacks; one server for them all.

// cyrusMinPoll is the server's popminpoll: Debian's is a minute, which
// Cyrus also takes in seconds.
const cyrusMinPoll = 3 * time.Second

// cyrusConfig points a task at user's mailbox on s over protocol, in plain
// text (Cyrus takes any password here).
func cyrusConfig(t *testing.T, s *cyrus.Server, protocol, user string, taskTOML ...string) *config.Config {
	t.Helper()
	addr := s.IMAPAddr
	if protocol == config.ProtocolPOP3 {
		addr = s.POP3Addr
	}
	return taskConfig(t, "cyrus", accountTOML("cyrus", protocol, addr, config.TLSNone, "", user, "cyrus-secret"), taskTOML...)
}

// Cyrus answers UID MOVE into a folder over its quota with "NO Over
// quota". The messages are taken, stay in the INBOX and their move stays
// due, run after run, until the quota is lifted; then exactly they are
// moved.
func TestCyrusRefusedMoveStaysDueUntilTheQuotaIsLifted(t *testing.T) {
	s := cyrus.Start(t, cyrus.Options{})
	s.AddUser(t, "alice", "Processed")
	taken := [][]byte{scan(1), scan(2), scan(3)}
	s.Append(t, "alice", "INBOX", taken...)
	s.SetQuota(t, "alice", "Processed", map[imap.QuotaResourceType]int64{imap.QuotaResourceMessage: 0})
	cfg := cyrusConfig(t, s, config.ProtocolIMAP, "alice", `after = "move"`, `move_to = "INBOX.Processed"`)

	for run := range 2 { // the second retries the move, and is refused again
		sum, err := runOnce(cfg)
		if err == nil || !strings.Contains(err.Error(), "NO Over quota") || sum.Due.After != len(taken) {
			t.Fatalf("run %d: %+v, %v; want the move refused and due", run+1, sum, err)
		}
		if hint := diagnose.Hint(err); !strings.Contains(hint, "quota") {
			t.Errorf("hint %q does not name the quota", hint)
		}
		if inbox, processed := len(s.Messages(t, "alice", "INBOX")), len(s.Messages(t, "alice", "INBOX.Processed")); inbox != len(taken) || processed != 0 {
			t.Fatalf("after run %d: INBOX %d, INBOX.Processed %d; want %d and 0", run+1, inbox, processed, len(taken))
		}
	}
	st, err := state.Load(cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Due().After; n != len(taken) || !strings.Contains(st.ActionRefused, "Over quota") {
		t.Fatalf("state: %d due, refusal %q", n, st.ActionRefused)
	}

	s.SetQuota(t, "alice", "Processed", nil)
	if sum, err := runOnce(cfg); err != nil || sum.Seen != 0 || sum.Due.After != 0 {
		t.Fatalf("run with the quota lifted: %+v, %v; want the move done", sum, err)
	}
	processed := s.Messages(t, "alice", "INBOX.Processed")
	if len(processed) != len(taken) {
		t.Fatalf("INBOX.Processed holds %d messages, want the %d taken", len(processed), len(taken))
	}
	for i := range taken {
		if !bytes.Equal(processed[i], taken[i]) {
			t.Errorf("INBOX.Processed message %d is not taken message %d", i+1, i+1)
		}
	}
	if n := len(s.Messages(t, "alice", "INBOX")); n != 0 {
		t.Errorf("INBOX holds %d messages, want none", n)
	}
	if n := len(filesIn(t, cfg.Tasks[0].Destination)); n != len(taken) {
		t.Errorf("%d files, want %d", n, len(taken))
	}
}

// waitLog is the real clock, noting the waits asked of it.
type waitLog struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (w *waitLog) Now() time.Time { return time.Now() }

func (w *waitLog) NewTimer(d time.Duration) clock.Timer {
	w.mu.Lock()
	w.waits = append(w.waits, d)
	w.mu.Unlock()
	return clock.Real.NewTimer(d)
}

// Cyrus' pop3d refuses a login within popminpoll of the last with
// "-ERR [LOGIN-DELAY] Logins must be at least ... apart" and announces the
// delay in CAPA. The run waits as long as CAPA says, not its own shorter
// backoff, and its retry then takes the mail.
func TestCyrusPOP3LoginDelayIsWaitedOut(t *testing.T) {
	t.Parallel() // it mostly waits
	s := cyrus.Start(t, cyrus.Options{PopMinPoll: fmt.Sprintf("%ds", int(cyrusMinPoll.Seconds()))})
	// Another client's login, just before the run's: the run's falls
	// within popminpoll of it unless the machine stalls for seconds
	// between the two, in which case the scene is played again, on
	// another mailbox.
	for scene := 1; ; scene++ {
		user := fmt.Sprintf("bob%d", scene)
		s.AddUser(t, user)
		s.Append(t, user, "INBOX", scan(scene))
		cfg := cyrusConfig(t, s, config.ProtocolPOP3, user, "retries = 2")
		s.POP3Login(t, user)
		var clk waitLog
		var log bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		run := Retry(Run, Backoff{Initial: 10 * time.Millisecond, Clock: &clk, Jitter: func(d time.Duration) time.Duration { return d }})
		sum, err := run(ctx, Options{Config: cfg, Task: cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&log, nil))})
		cancel()
		if err != nil {
			t.Fatalf("run: %v\n%s", err, log.String())
		}
		if len(clk.waits) == 0 && sum.Saved == 1 && scene < 5 {
			continue
		}
		if len(clk.waits) != 1 || clk.waits[0] != cyrusMinPoll {
			t.Errorf("waits %v, want the %v CAPA's LOGIN-DELAY announces", clk.waits, cyrusMinPoll)
		}
		if sum.Saved != 1 || !strings.Contains(log.String(), "[LOGIN-DELAY]") {
			t.Errorf("summary %+v, log:\n%s", sum, log.String())
		}
		return
	}
}
