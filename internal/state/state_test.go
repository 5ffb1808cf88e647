package state

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"mailtask/internal/outcome"
)

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestLoadMissingIsFresh(t *testing.T) {
	s, err := Load(filepath.Join(t.TempDir(), "not-yet"), "invoices")
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != Version || s.Task != "invoices" || s.Done.Len() != 0 || s.UIDLs.Len() != 0 || s.LastRun != nil {
		t.Errorf("fresh state = %+v", s)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Load(dir, "invoices")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 4, 5, 6, 7, 8, time.UTC)
	s.UIDValidity = 12345
	s.Done.AddRange(1, 500)
	s.Done.Add(502)
	s.UIDLs.Add("AAA")
	s.AddFailure(Failure{Key: "uid:501", Reason: "no matching attachment", Path: "/srv/q/501.eml", At: at})
	s.LastRun = &Run{Started: at, Duration: 1500 * time.Millisecond, Outcome: "failed", Error: "AUTHENTICATE failed.", Hint: "check the app password",
		Counts: outcome.Counts{Seen: 10, Unmatched: 5, Saved: 4, Failed: 1, Files: 7, Bytes: 1 << 33}, QuarantineNotices: 2}
	s.LastSuccess = &Run{Started: at.Add(-time.Hour), Outcome: "ok"}
	s.LastNotice = &LastNotice{At: at.Add(-2 * time.Hour), Notices: 2, Held: 5}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir, "invoices")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, back) {
		t.Errorf("loaded\n%+v\nwant\n%+v", back, s)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{"invoices.json", "invoices.uidls.1"}) {
		t.Errorf("state dir holds %q, want only invoices.json and invoices.uidls.1", got)
	}
	data, err := os.ReadFile(Path(dir, "invoices"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"done_uids": "1:500,502"`, `"uid_validity": 12345`, `"duration_ns": 1500000000`, `"bytes": 8589934592`, `"quarantine_notices": 2`,
		`"last_notice": {
    "at": "2025-03-04T03:06:07.000000008Z",
    "notices": 2,
    "held": 5
  }`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("state file lacks %s:\n%s", want, data)
		}
	}
}

func TestSaveMode0600(t *testing.T) {
	dir := t.TempDir()
	// A pre-existing, too-open file must not keep its mode.
	if err := os.WriteFile(Path(dir, "t"), []byte(`{"version":1,"task":"t","done_uids":""}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(Path(dir, "t"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestSaveCreatesDir0700(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "state")
	s, err := Load(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("state dir mode %v, want no group/other access", fi.Mode().Perm())
	}
}

func TestSaveFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Load(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	s.Done.Add(1)
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(Path(dir, "t"))
	if err != nil {
		t.Fatal(err)
	}
	// time.Time refuses to encode years past 9999, so this Save fails.
	s.Done.Add(2)
	s.AddFailure(Failure{Key: "uid:2", At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err := s.Save(); err == nil || !strings.Contains(err.Error(), Path(dir, "t")) {
		t.Fatalf("Save = %v, want an error naming the state file", err)
	}
	now, err := os.ReadFile(Path(dir, "t"))
	if err != nil {
		t.Fatal(err)
	}
	if string(now) != string(old) {
		t.Errorf("failed Save changed the file:\n%s\nwant\n%s", now, old)
	}
	if got := listDir(t, dir); !slices.Equal(got, []string{"t.json"}) {
		t.Errorf("state dir holds %q, want only t.json", got)
	}
}

func TestLoadCorrupt(t *testing.T) {
	for name, content := range map[string]string{
		"not json":      `{"version":1,"task":"inv`,
		"empty":         ``,
		"bad uid set":   `{"version":1,"task":"invoices","done_uids":"1:x"}`,
		"wrong type":    `{"version":1,"task":"invoices","done_uids":"1","uidls":[1]}`,
		"future":        `{"version":3,"task":"invoices","done_uids":""}`,
		"no version":    `{"task":"invoices","done_uids":""}`,
		"not an object": `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := Path(dir, "invoices")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir, "invoices")
			if err == nil {
				t.Fatal("Load accepted a corrupt file")
			}
			for _, want := range []string{path, `mailtask state reset invoices`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestLoadTakesTaskName(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(Path(dir, "new"), []byte(`{"version":1,"task":"old","done_uids":"1:3"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(dir, "new")
	if err != nil {
		t.Fatal(err)
	}
	if s.Task != "new" || s.Done.String() != "1:3" {
		t.Errorf("got task %q done %q, want task new done 1:3", s.Task, s.Done.String())
	}
}

func TestBadTaskNames(t *testing.T) {
	dir := t.TempDir()
	for _, task := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a\x00b"} {
		if _, err := Load(dir, task); err == nil {
			t.Errorf("Load(%q) accepted the name", task)
		}
		if _, err := Lock(dir, task); err == nil {
			t.Errorf("Lock(%q) accepted the name", task)
		}
		if _, err := OpenLedger(dir, task); err == nil {
			t.Errorf("OpenLedger(%q) accepted the name", task)
		}
		if err := Reset(dir, task); err == nil {
			t.Errorf("Reset(%q) accepted the name", task)
		}
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Errorf("bad names created %q", got)
	}
}

func TestSaveWithoutLoad(t *testing.T) {
	s := &State{Version: Version, Task: "t"}
	if err := s.Save(); err == nil {
		t.Error("Save of a State not from Load succeeded; where did it write?")
	}
}

func TestPruneUIDLs(t *testing.T) {
	const day = 24 * time.Hour
	now := time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)
	var s State
	for _, u := range []string{"a", "b", "c"} {
		s.UIDLs.Add(u)
	}
	listed := []string{"a", "b"}
	known := s.PruneUIDLs([]string{"new-on-server", "a"}, now, 2*day)
	if s.UIDLs.Len() != 3 || s.UIDLs.Has("new-on-server") || !slices.Equal(known, []bool{false, true}) {
		t.Fatalf("after b and c left: %d known, new one known %v, listing known %v; want 3, false, [false true]", s.UIDLs.Len(), s.UIDLs.Has("new-on-server"), known)
	}
	// b comes back; c stays away, for exactly the grace period and then
	// for longer.
	for i, wantC := range []bool{true, true, false} {
		s.PruneUIDLs(listed, now.Add(time.Duration(i+1)*day), 2*day)
		if s.UIDLs.Has("c") != wantC || !s.UIDLs.Has("a") || !s.UIDLs.Has("b") {
			t.Errorf("%d days after c left: has a %v, b %v, c %v; want true, true, %v", i+1, s.UIDLs.Has("a"), s.UIDLs.Has("b"), s.UIDLs.Has("c"), wantC)
		}
	}
	// b's absence was forgiven when it came back: its clock starts again.
	s.PruneUIDLs([]string{"a"}, now.Add(4*day), 2*day)
	s.PruneUIDLs([]string{"a"}, now.Add(6*day), 2*day)
	if !s.UIDLs.Has("b") {
		t.Error("b was forgotten 2 days after it left again")
	}
}

func TestAddFailureBounded(t *testing.T) {
	var s State
	for i := range MaxFailures + 10 {
		s.AddFailure(Failure{Key: fmt.Sprint("uid:", i)})
	}
	if len(s.Failed) != MaxFailures {
		t.Fatalf("len(Failed) = %d, want %d", len(s.Failed), MaxFailures)
	}
	if s.Failed[0].Key != "uid:10" {
		t.Errorf("oldest kept failure is %q, want uid:10 (the first ten dropped)", s.Failed[0].Key)
	}
	s.AddFailure(Failure{Key: s.Failed[0].Key, Reason: "again"})
	if len(s.Failed) != MaxFailures {
		t.Errorf("re-failing a message grew the list to %d", len(s.Failed))
	}
	last := s.Failed[len(s.Failed)-1]
	if last.Reason != "again" {
		t.Errorf("re-failed message not moved to the end: %+v", last)
	}
}

func BenchmarkSave(b *testing.B) {
	s, err := Load(b.TempDir(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	for u := uint32(1); u <= 100_000; u++ {
		if u%3 != 0 {
			s.Done.Add(u)
		}
	}
	for b.Loop() {
		if err := s.Save(); err != nil {
			b.Fatal(err)
		}
	}
}
