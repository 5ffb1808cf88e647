package main

import (
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtask/internal/state"
	"mailtask/internal/testmail/dovecot"
)

// A `state retry --from-copy` killed at any point (between and inside its
// file writes, the ledger's append and the state's save: every
// file-system event of a clean one) and then run again leaves what a
// clean one leaves: the same files, none twice, and the failure record
// gone.
func TestStateRetryFromCopySurvivesAKillAnywhere(t *testing.T) {
	t.Parallel() // a server and directories of its own
	d := dovecot.Start(t, dovecot.Options{})
	d.Seed(t, d.User, "INBOX", twoForwards())
	task := append([]string{`after_failure = "delete"`, "[task.attachments]", `nested = "extract"`}, allOutputs...)
	td := newTaskDir(t, d, "imap", d.User, d.Password, task...)
	if code, out, errOut := run(t, "run-task", "--config", td.config, "t"); code != exitOK || !strings.Contains(out, "1 failed") {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	config, err := os.ReadFile(td.config)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, td.dir, filepath.Base(td.config), strings.Replace(string(config), `nested = "extract"`, `nested = "eml"`, 1))
	kept := filepath.Join(t.TempDir(), "state")
	copyTree(t, td.state, kept)

	retry := func(killAt int) (killed bool, events int, out string) {
		t.Helper()
		return killRetryFromCopy(t, td, killAt)
	}
	restore := func() {
		t.Helper()
		for _, dir := range []string{td.state, td.dest} {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}
		copyTree(t, kept, td.state)
	}
	_, events, out := retry(0)
	if !strings.Contains(out, "took 1 message(s)") {
		t.Fatalf("clean retry from the copy: %s", out)
	}
	clean := td.files(t)
	if len(clean) < 5 {
		t.Fatalf("a clean retry from the copy wrote %v; want the two attached messages, the message, its body and its sidecar", clean)
	}
	// inotify merges events that come together, so a run may end before
	// its last kill points.
	kills, between := 0, 0 // between: kills that left files written and the message kept aside
	for killAt := 1; killAt < events; killAt++ {
		restore()
		if killed, _, _ := retry(killAt); killed {
			kills++
			if st, err := state.Load(td.state, "t"); err == nil && len(st.Failed) == 1 && named(t, td.dest) > 0 {
				between++
			}
		}
		_, _, out := retry(0)
		if !strings.Contains(out, "took 1 message(s)") && !strings.Contains(out, "no message is kept aside") {
			t.Fatalf("killed at event %d, the retry after: %s", killAt, out)
		}
		if got := td.files(t); !maps.Equal(got, clean) {
			t.Fatalf("killed at event %d, then run again, the retry wrote %v; a clean one wrote %v", killAt, got, clean)
		}
		st, err := state.Load(td.state, "t")
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Failed) != 0 {
			t.Fatalf("killed at event %d, then run again: still kept aside %+v", killAt, st.Failed)
		}
	}
	if kills < events/2 || between == 0 {
		t.Errorf("%d of %d kill points struck, %d of them between a file written and the commit", kills, events-1, between)
	}
	t.Logf("%d of %d kill points struck, %d of them between a file written and the commit", kills, events-1, between)
}

// named counts the files in dir under their own names, temporary ones
// left out.
func named(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

// killRetryFromCopy runs `mailtask state retry --from-copy t` once and
// kills it at the killAt-th file-system event in td's destination and
// state (never, for 0); it returns whether the kill struck, the events
// seen, and the output of a retry that ended by itself, whatever its exit.
func killRetryFromCopy(t *testing.T, td taskDir, killAt int) (killed bool, events int, out string) {
	t.Helper()
	killed, events, stdout, stderr, _ := attemptCommand(t, td, killAt, "state", "retry", "--from-copy", "--config", td.config, "t")
	return killed, events, stdout + stderr
}

// copyTree copies the folder from, its files and folders, to to.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if e.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), info.Mode().Perm())
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
