package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// The crash suite kills the real mailtask with SIGKILL at points spread
// over a run, then lets it run to completion, and checks that the
// destination holds exactly what a clean run writes: no file missing, none
// twice, no temporary file visible, and the state agrees.
//
// Kill points come from a deterministic random sequence of file-system
// events: the test watches the destination and the state directory with
// inotify and kills the process on the Nth event (a temporary file
// created, written, linked into place, the ledger appended to, the state
// renamed), so they fall between and inside every step without a sleep.
//
// MAILTASK_CRASH_KILLS (default 24) and MAILTASK_CRASH_MESSAGES (240) size
// it; `make soak` raises them (1000 kills).

func crashKnob(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive whole number", name, v)
	}
	return n
}

// inotifyWatch counts file-system events in some directories. Its fd is
// non-blocking and goes through Go's poller, so Close wakes a blocked
// Read.
type inotifyWatch struct{ f *os.File }

func watchDirs(t *testing.T, dirs ...string) *inotifyWatch {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("inotify: %v", err)
	}
	const mask = syscall.IN_CREATE | syscall.IN_MODIFY | syscall.IN_CLOSE_WRITE | syscall.IN_MOVED_TO | syscall.IN_DELETE
	for _, dir := range dirs {
		if _, err := syscall.InotifyAddWatch(fd, dir, mask); err != nil {
			syscall.Close(fd)
			t.Fatalf("inotify watch %s: %v", dir, err)
		}
	}
	return &inotifyWatch{f: os.NewFile(uintptr(fd), "inotify")}
}

// next blocks until events arrive and returns how many did.
func (w *inotifyWatch) next() (int, error) {
	buf := make([]byte, 64*1024)
	n, err := w.f.Read(buf)
	if err != nil {
		return 0, err
	}
	count := 0
	for off := 0; off+syscall.SizeofInotifyEvent <= n; count++ {
		nameLen := binary.NativeEndian.Uint32(buf[off+12 : off+16])
		off += syscall.SizeofInotifyEvent + int(nameLen)
	}
	return count, nil
}

func (w *inotifyWatch) Close() error { return w.f.Close() }

// attempt runs mailtask run-task once and kills it at the killAt-th event
// (never, for 0). It returns whether the kill struck and, if the run ended
// by itself, its output; the events seen are for calibration.
func attempt(t *testing.T, td taskDir, killAt int) (killed bool, events int, out string) {
	t.Helper()
	killed, events, out, err := attemptMayFail(t, td, killAt)
	if err != nil {
		t.Fatalf("run-task failed by itself: %v\n%s", err, out)
	}
	return killed, events, out
}

// attemptMayFail is attempt for a run that may fail by itself: it returns
// the failure, with the run's output and errors, instead.
func attemptMayFail(t *testing.T, td taskDir, killAt int) (killed bool, events int, out string, err error) {
	t.Helper()
	killed, events, stdout, stderr, err := attemptCommand(t, td, killAt, "run-task", "--config", td.config, "t")
	if err != nil {
		return killed, events, "stdout: " + stdout + "\nstderr: " + stderr, err
	}
	return killed, events, stdout, nil
}

// attemptCommand runs mailtask with args once and kills it at the
// killAt-th file-system event in td's destination and state, or the
// folders of td.watch (never, for 0). It returns whether the kill struck,
// the events seen, and, for a command that ended by itself, its output
// and how it ended.
func attemptCommand(t *testing.T, td taskDir, killAt int, args ...string) (killed bool, events int, stdout, stderr string, err error) {
	t.Helper()
	dirs := td.watch
	if len(dirs) == 0 {
		dirs = []string{td.dest, td.state}
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w := watchDirs(t, dirs...)
	var out, errOut bytes.Buffer
	cmd := plainMailtaskCmd(t, args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		w.Close()
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		w.Close() // wakes the watch loop below
		exited <- err
	}()
	for killAt == 0 || events < killAt {
		n, err := w.next()
		if err != nil {
			break // the process has exited
		}
		events += n
	}
	if killAt > 0 && events >= killAt {
		// os.Process signals through a pidfd: never another process,
		// even if this one has just been reaped.
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatal(err)
		}
	}
	err = <-exited
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return true, events, "", "", nil
	}
	return false, events, out.String(), errOut.String(), err
}

// crashScenario is one kind of task the suite interrupts.
type crashScenario struct {
	name, protocol, after string
	outputs               []string // the task's [task.output]
	// postgres keeps the state in cluster mode's database; pooled
	// reaches it through a PgBouncer in transaction mode.
	postgres, pooled bool
}

// Every output is on, so that kills also fall between the files of one
// message and before its metadata sidecar, which is named after a second
// flush. A POP3 message's sidecar holds its UIDL where the clean run's
// (over IMAP) holds a UID, so the POP3 scenario writes all but the sidecar.
var (
	allOutputs     = []string{"[task.output]", "eml = true", "body = true", "metadata = true"}
	allButMetadata = []string{"[task.output]", "eml = true", "body = true"}
)

func TestCrashSuite(t *testing.T) {
	t.Parallel() // a server and directories of its own; much of it waits on child processes
	crashSuite(t, crashKnob(t, "MAILTASK_CRASH_KILLS", 24), crashKnob(t, "MAILTASK_CRASH_MESSAGES", 240), []crashScenario{
		{name: "imap-seen", protocol: "imap", after: "seen", outputs: allOutputs},
		{name: "pop3-delete", protocol: "pop3", after: "delete", outputs: allButMetadata},
	})
}

// TestCrashSuitePostgres is the crash suite with the state in cluster
// mode's database: a commit is a transaction there, and a kill leaves the
// task's lease held until it runs out (the suite makes it run out at
// once); once more with the database behind a connection pooler. MAILTASK_CRASH_PG_KILLS (default 10) and
// MAILTASK_CRASH_PG_MESSAGES (100) size it; `make soak` raises them.
func TestCrashSuitePostgres(t *testing.T) {
	t.Parallel()
	crashSuite(t, crashKnob(t, "MAILTASK_CRASH_PG_KILLS", 10), crashKnob(t, "MAILTASK_CRASH_PG_MESSAGES", 100), []crashScenario{
		{name: "imap-seen-pg", protocol: "imap", after: "seen", outputs: allOutputs, postgres: true},
		{name: "pop3-delete-pg", protocol: "pop3", after: "delete", outputs: allButMetadata, postgres: true},
		{name: "imap-seen-pgbouncer", protocol: "imap", after: "seen", outputs: allOutputs, postgres: true, pooled: true},
	})
}

func crashSuite(t *testing.T, kills, n int, scenarios []crashScenario) {
	users := map[string]string{"clean": "pw-clean"}
	for _, sc := range scenarios {
		users[sc.name] = "pw-" + sc.name
	}
	d := dovecot.Start(t, dovecot.Options{Users: users})
	var raws [][]byte
	for _, fx := range testmail.Generate(501, n, 0.01) {
		raws = append(raws, fx.Raw)
	}
	d.Seed(t, "clean", "INBOX", raws...)

	// The clean run gives the expected files and the number of events a
	// whole run makes, which spreads the kill points over it.
	clean := newTaskDir(t, d, "imap", "clean", users["clean"], append([]string{"batch_size = 10"}, allOutputs...)...)
	_, events, out := attempt(t, clean, 0)
	if !strings.Contains(out, "t: "+strconv.Itoa(n)+" new") {
		t.Fatalf("clean run: %s", out)
	}
	want := clean.files(t)
	t.Logf("a clean run of %d messages writes %d files and makes %d file-system events", n, len(want), events)

	rng := rand.New(rand.NewPCG(0x6b696c6c, 9))
	total := 0
	for i, sc := range scenarios {
		share := (kills - total + len(scenarios) - i - 1) / (len(scenarios) - i)
		t.Run(sc.name, func(t *testing.T) {
			total += crashRounds(t, d, sc, users[sc.name], raws, want, events, share, rng)
		})
	}
	if total < kills {
		t.Errorf("%d kills across the suite, want at least %d", total, kills)
	}
	t.Logf("%d kills across the suite", total)
}

// crashRounds interrupts sc until it has been killed kills times. A round
// starts from a fresh state and destination (and a freshly seeded mailbox)
// and ends with a run to completion and the checks; when a round's run
// completes before enough kills, another round follows.
func crashRounds(t *testing.T, d *dovecot.Server, sc crashScenario, password string, raws [][]byte, want map[string]string, events, kills int, rng *rand.Rand) int {
	// Kill points are uniform over twice the average share of events per
	// kill, so a round reaches the end of the run with about kills kills.
	span := max(2, 2*events/kills)
	total := 0
	for round := 1; total < kills; round++ {
		if left, _ := d.Count(sc.name, "INBOX"); left == 0 {
			d.Seed(t, sc.name, "INBOX", raws...)
		}
		td := newTaskDir(t, d, sc.protocol, sc.name, password, append([]string{"batch_size = 10", `after = "` + sc.after + `"`}, sc.outputs...)...)
		if sc.postgres {
			onPostgres(t, td, sc.pooled)
		}
		var out string
		for total < kills {
			killed, _, o := attempt(t, td, 1+rng.IntN(span))
			if !killed {
				out = o
				break
			}
			total++
			// The killed process's lease runs out (by the database's
			// clock, at once) rather than in an hour.
			td.expireLeases(t)
		}
		if out == "" {
			// Enough kills: now run to completion.
			if _, _, out = attempt(t, td, 0); out == "" {
				t.Fatal("run to completion printed nothing")
			}
		}
		checkCrashRound(t, d, sc, td, len(raws), want)
		t.Logf("round %d: %d kills so far", round, total)
		if t.Failed() {
			break
		}
	}
	return total
}

// checkCrashRound checks a task that has run to completion after kills.
func checkCrashRound(t *testing.T, d *dovecot.Server, sc crashScenario, td taskDir, n int, want map[string]string) {
	t.Helper()
	if !slices.Contains(sc.outputs, "metadata = true") {
		want = maps.Clone(want)
		maps.DeleteFunc(want, func(name, _ string) bool { return strings.HasSuffix(name, ".json") })
	}
	sameFiles(t, sc.name, td.files(t), want)
	st, ledger := td.stored(t)
	switch sc.protocol {
	case "imap":
		if st.Done.Len() < uint64(n) || st.Done.FirstMissing() <= uint32(n) {
			t.Errorf("%s: state records UIDs %s, want 1:%d at least", sc.name, st.Done.String(), n)
		}
	case "pop3":
		if st.UIDLs.Len() != n {
			t.Errorf("%s: state records %d UIDLs, want %d", sc.name, st.UIDLs.Len(), n)
		}
	}
	if !st.PendingUIDs.IsZero() || len(st.PendingUIDLs) != 0 || !st.PendingFailedUIDs.IsZero() || len(st.PendingFailedUIDLs) != 0 {
		t.Errorf("%s: after-actions still pending: %s %v", sc.name, st.PendingUIDs.String(), st.PendingUIDLs)
	}
	if len(st.Failed) != 0 {
		t.Errorf("%s: %d messages quarantined", sc.name, len(st.Failed))
	}
	if ledger != n {
		t.Errorf("%s: ledger holds %d fingerprints, want one per message: %d", sc.name, ledger, n)
	}
	total, seen := d.Count(sc.name, "INBOX")
	switch sc.after {
	case "seen":
		if total != n || seen != n {
			t.Errorf("%s: INBOX has %d messages, %d seen; want %d, all seen", sc.name, total, seen, n)
		}
	case "delete":
		if total != 0 {
			t.Errorf("%s: INBOX still has %d messages", sc.name, total)
		}
	}
	// Debris of interrupted saves must not pile up beside the state.
	entries, err := os.ReadDir(td.state)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case sc.postgres && name == "spool": // emptied by every run
		case !sc.postgres && slices.Contains([]string{"t.json", "t.ledger", "t.lock", "t.uidls.0", "t.uidls.1"}, name):
			// The UIDL log has two files, one of them live.
		default:
			t.Errorf("%s: state directory holds %s", sc.name, name)
		}
	}
	if _, _, out := attempt(t, td, 0); !strings.Contains(out, "t: 0 new") {
		t.Errorf("%s: a further run: %s", sc.name, out)
	}
}
