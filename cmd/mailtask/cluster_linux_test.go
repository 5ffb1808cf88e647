package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"mailtask/internal/outcome"
	"mailtask/internal/pgstore"
	"mailtask/internal/state"
	"mailtask/internal/testmail/postgres"
)

// clusterTask writes a configuration of cluster mode with task "t" on a
// fresh database and returns its path, the database's URL and the
// state_dir.
func clusterTask(t *testing.T) (cfg, url, stateDir string) {
	t.Helper()
	url = postgres.Shared(t).NewDatabase(t)
	cfg, stateDir = clusterTaskOn(t, url, "", "")
	return cfg, url, stateDir
}

// clusterTaskOn migrates the database at url and writes a configuration
// of cluster mode keeping task "t" there, top and taskKeys adding lines to
// the top level and to the task; it returns its path and the state_dir.
func clusterTaskOn(t *testing.T, url, top, taskKeys string) (cfg, stateDir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pgstore.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "db.url", url)
	cfg = writeFile(t, dir, "mailtask.toml", `state_dir = "state"
state_store_file = "db.url"
`+top+`
[accounts.a]
host = "127.0.0.1"
port = 1
tls = "none"
username = "u"
password = "p"
[[task]]
name = "t"
account = "a"
destination = "dest"
`+taskKeys)
	return cfg, filepath.Join(dir, "state")
}

// fileState writes a state of task "t" in the file store under dir with
// something in every part: what it took, what settles, what is due, its
// quarantine, last run and last quarantine notice. It returns the state and the
// ledger's fingerprints.
func fileState(t *testing.T, dir string) (*state.State, []state.Fingerprint) {
	t.Helper()
	st, err := state.Load(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	st.UIDValidity = 7
	st.Done.AddRange(1, 40)
	st.Done.Add(44)
	st.PendingUIDs.AddRange(38, 40)
	st.PendingFailedUIDs.Add(44)
	st.PendingRemovalUIDs.Add(37)
	st.PendingUIDLs = []string{"uidl-9"}
	st.ActionRefused = "after: NO [OVERQUOTA] quota exceeded"
	for _, u := range []string{"uidl-1", "uidl-2", "uidl-9"} {
		st.UIDLs.Add(u)
	}
	st.PruneUIDLs([]string{"uidl-1", "uidl-9"}, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 30*24*time.Hour) // uidl-2 goes missing
	st.AddFailure(state.Failure{Key: "uid:44", Reason: "not a message", Path: "/q/uid-44.eml", At: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)})
	st.LastRun = &state.Run{Started: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), Duration: time.Second, Outcome: outcome.OK, Counts: outcome.Counts{Seen: 3, Saved: 3}}
	st.LastSuccess = st.LastRun
	st.LastNotice = &state.LastNotice{At: time.Date(2026, 11, 2, 9, 12, 0, 0, time.UTC), Notices: 2, Held: 5}
	st.Settling.Append(45, time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC))
	st.Settling.Append(46, time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC))
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	ledger, err := state.OpenLedger(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	fps := []state.Fingerprint{{1, 2}, {3, 4}, {5, 6}}
	if err := ledger.Append(fps...); err != nil {
		t.Fatal(err)
	}
	return st, fps
}

// comparable is st as JSON, without where its UIDL log is, plus its UIDLs.
func comparable(t *testing.T, st *state.State) string {
	t.Helper()
	c := *st
	c.UIDLLog = nil
	data, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var uidls []string
	for h, day := range st.UIDLs.All() {
		uidls = append(uidls, fmt.Sprintf("%x:%d", h, day))
	}
	slices.Sort(uidls)
	return string(data) + strings.Join(uidls, ",")
}

func fingerprints(t *testing.T, dir string) []state.Fingerprint {
	t.Helper()
	ledger, err := state.OpenLedger(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	fps, err := ledger.All()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(fps, func(a, b state.Fingerprint) int { return strings.Compare(string(a[:]), string(b[:])) })
	return fps
}

func TestStateImportThenExportKeepsEverythingTaken(t *testing.T) {
	cfg, url, stateDir := clusterTask(t)
	before, fps := fileState(t, stateDir)
	want := comparable(t, before)

	if code, out, errOut := run(t, "state", "import", "--config", cfg, "t"); code != exitOK || !strings.Contains(out, "3 messages in the ledger") {
		t.Fatalf("state import: exit %d\n%s%s", code, out, errOut)
	}
	imported, ledger := dbState(t, url)
	if got := comparable(t, imported); got != want {
		t.Errorf("the database holds\n%s\nwant\n%s", got, want)
	}
	if ledger != len(fps) {
		t.Errorf("the database's ledger holds %d fingerprints, want %d", ledger, len(fps))
	}
	// Once is enough: a second import would take the files' state over
	// what the cluster has done since.
	if code, _, errOut := run(t, "state", "import", "--config", cfg, "t"); code != exitFailed || !strings.Contains(errOut, "already has a state in the database") {
		t.Errorf("a second import: exit %d\n%s", code, errOut)
	}
	// Nor does export overwrite a state the file store has.
	if code, _, errOut := run(t, "state", "export", "--config", cfg, "t"); code != exitFailed || !strings.Contains(errOut, "already has a state under") {
		t.Errorf("an export over the files' state: exit %d\n%s", code, errOut)
	}

	// Back to the file store, into an empty state_dir.
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, "state", "export", "--config", cfg, "t"); code != exitOK {
		t.Fatalf("state export: exit %d\n%s%s", code, out, errOut)
	}
	exported, err := state.Load(stateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if got := comparable(t, exported); got != want {
		t.Errorf("the exported files hold\n%s\nwant\n%s", got, want)
	}
	slices.SortFunc(fps, func(a, b state.Fingerprint) int { return strings.Compare(string(a[:]), string(b[:])) })
	if got := fingerprints(t, stateDir); !slices.Equal(got, fps) {
		t.Errorf("the exported ledger holds %x, want %x", got, fps)
	}
	if code, out, _ := run(t, "state", "show", "--config", cfg, "t"); code != exitOK || !strings.Contains(out, `"uid_validity": 7`) {
		t.Errorf("state show of the database: exit %d\n%s", code, out)
	}
}

func TestRunTaskNamesTheNodeThatHoldsTheTask(t *testing.T) {
	cfg, url, _ := clusterTask(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := pgstore.Open(ctx, pgstore.Options{URL: url, Node: "node-elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.ClaimTask(ctx, "t", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "run-task", "--config", cfg, "t")
	if code != exitRunning || !strings.Contains(errOut, "node-elsewhere") {
		t.Fatalf("run-task of a task another node holds: exit %d, want %d naming the node\n%s", code, exitRunning, errOut)
	}
	code, out, _ := run(t, "status", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "t: held by node-elsewhere") {
		t.Errorf("status: exit %d\n%s", code, out)
	}

	// Once that node's run ended and let the task go, status tells, from
	// the database, how it went and where.
	st, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.LastRun = &state.Run{Started: time.Now(), Outcome: outcome.Failed, Error: "the server went away"}
	if err := l.CommitRun(ctx, st, *st.LastRun, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "status", "--config", cfg)
	for _, want := range []string{"t: last run failed: the server went away", "t: last ran on node-elsewhere"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("status after the run: exit %d, want %q\n%s", code, want, out)
		}
	}
}

// In cluster mode `state retry` changes the database's state and ledger,
// under the task's lease. A failure recorded before failures carried
// their fingerprint is found in the ledger by the SHA-256 of its copy;
// one whose copy cannot be read is refused, and nothing changes.
func TestStateRetryInTheDatabase(t *testing.T) {
	cfg, url, stateDir := clusterTask(t)
	st, _ := fileState(t, stateDir)
	copyOf44 := filepath.Join(t.TempDir(), "uid-44.eml")
	raw := []byte("Subject: kept aside\r\n\r\nnot a message\r\n")
	st.Failed[0].Path = copyOf44
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	ledger, err := state.OpenLedger(stateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.Append(state.FingerprintOf(sha256.Sum256(raw))); err != nil {
		t.Fatal(err)
	}
	ledger.Close()
	if code, out, errOut := run(t, "state", "import", "--config", cfg, "t"); code != exitOK || !strings.Contains(out, "4 messages in the ledger") {
		t.Fatalf("state import: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut := run(t, "state", "retry", "--config", cfg, "t")
	if code != exitFailed || !strings.Contains(errOut, "uid:44 was kept aside by an earlier mailtask") || !strings.Contains(errOut, copyOf44) {
		t.Fatalf("retry with the copy missing: exit %d\n%s%s", code, out, errOut)
	}
	if st, n := dbState(t, url); len(st.Failed) != 1 || n != 4 {
		t.Fatalf("a refused retry changed the database: failures %+v, %d in the ledger", st.Failed, n)
	}

	writeFile(t, filepath.Dir(copyOf44), filepath.Base(copyOf44), string(raw))
	code, out, errOut = run(t, "state", "retry", "--config", cfg, "t", "uid:44")
	if code != exitOK || !strings.Contains(out, "the next run takes again 1 message(s)") {
		t.Fatalf("retry: exit %d\n%s%s", code, out, errOut)
	}
	st, n := dbState(t, url)
	if len(st.Failed) != 0 || st.Done.Contains(44) || st.PendingFailedUIDs.Contains(44) || !st.Done.Contains(40) || n != 3 {
		t.Errorf("after the retry: failures %+v, done %v, failure actions due %v, %d in the ledger; want uid 44 new again and 3 in the ledger",
			st.Failed, st.Done.String(), st.PendingFailedUIDs.String(), n)
	}
}
