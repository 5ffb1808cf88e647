package state

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func mustLoad(t *testing.T, dir string) *State {
	t.Helper()
	s, err := Load(dir, "pop")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustSave(t *testing.T, s *State) {
	t.Helper()
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
}

func uidls(n int) []string {
	l := make([]string, n)
	for i := range l {
		l[i] = fmt.Sprintf("%08X5f3c1a2b", i)
	}
	return l
}

// TestUIDLSavesAppendOnlyChanges: a poll that finds the server as it was
// writes nothing to the UIDL log, and a commit appends its own UIDLs only.
func TestUIDLSavesAppendOnlyChanges(t *testing.T) {
	dir := t.TempDir()
	s := mustLoad(t, dir)
	all := uidls(1000)
	for _, u := range all {
		s.UIDLs.Add(u)
	}
	mustSave(t, s)
	log := uidlPath(dir, "pop", s.UIDLLog.Gen)
	size := fileSize(t, log)
	if size != headerSize+9*1000 {
		t.Errorf("log of 1000 UIDLs is %d bytes, want %d", size, headerSize+9*1000)
	}

	s = mustLoad(t, dir)
	s.PruneUIDLs(all, time.Now(), 30*24*time.Hour)
	mustSave(t, s)
	if got := fileSize(t, log); got != size {
		t.Errorf("a poll with nothing new grew the log from %d to %d bytes", size, got)
	}
	s.UIDLs.Add("new-one")
	mustSave(t, s)
	if got := fileSize(t, log); got != size+9 {
		t.Errorf("one new UIDL grew the log from %d to %d bytes, want +9", size, got)
	}
	back := mustLoad(t, dir)
	if back.UIDLs.Len() != 1001 || !back.UIDLs.Has("new-one") || !back.UIDLs.Has("000003E75f3c1a2b") {
		t.Errorf("loaded %d UIDLs (new one %v), want 1001", back.UIDLs.Len(), back.UIDLs.Has("new-one"))
	}
	if data, _ := os.ReadFile(Path(dir, "pop")); strings.Contains(string(data), "5f3c1a2b") || len(data) > 1000 {
		t.Errorf("the state file holds UIDLs (%d bytes):\n%s", len(data), data)
	}
}

// TestUIDLUncommittedAppendIgnored: a save that crashed after appending to
// the log and before replacing the state file leaves bytes the state does
// not name; they do not count, and the next save writes over them.
func TestUIDLUncommittedAppendIgnored(t *testing.T) {
	dir := t.TempDir()
	s := mustLoad(t, dir)
	s.UIDLs.Add("committed")
	mustSave(t, s)
	f, err := os.OpenFile(uidlPath(dir, "pop", s.UIDLLog.Gen), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A whole record for "lost", then a torn one.
	torn := appendRecord(nil, hashUIDL("lost"), 0)
	f.Write(append(torn, torn[:5]...))
	f.Close()

	s = mustLoad(t, dir)
	if s.UIDLs.Len() != 1 || s.UIDLs.Has("lost") {
		t.Fatalf("uncommitted log bytes counted: %d UIDLs, lost %v", s.UIDLs.Len(), s.UIDLs.Has("lost"))
	}
	s.UIDLs.Add("next")
	mustSave(t, s)
	back := mustLoad(t, dir)
	if back.UIDLs.Len() != 2 || !back.UIDLs.Has("next") || back.UIDLs.Has("lost") {
		t.Errorf("after the next save: %d UIDLs, next %v, lost %v; want 2, true, false", back.UIDLs.Len(), back.UIDLs.Has("next"), back.UIDLs.Has("lost"))
	}
}

// TestUIDLRewriteKeepsCommittedLog: a rewrite goes to the other file, so a
// crash before the state names it leaves the committed log intact, and
// once the state names it the old file goes.
func TestUIDLRewriteKeepsCommittedLog(t *testing.T) {
	dir := t.TempDir()
	s := mustLoad(t, dir)
	s.UIDLs.Add("a")
	mustSave(t, s)
	old := uidlPath(dir, "pop", s.UIDLLog.Gen)

	s.UIDLs.Add("b")
	s.UIDLs.rewrite = true
	// The log is rewritten, then the process dies before the state file.
	if _, err := s.UIDLs.saveUIDLs(dir, "pop", s.UIDLLog, s.committedGen); err != nil {
		t.Fatal(err)
	}
	back := mustLoad(t, dir)
	if back.UIDLs.Len() != 1 || !back.UIDLs.Has("a") {
		t.Fatalf("after a crashed rewrite: %d UIDLs, want the committed 1", back.UIDLs.Len())
	}
	back.UIDLs.Add("b")
	back.UIDLs.rewrite = true
	mustSave(t, back)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Errorf("the replaced log %s is still there (%v)", old, err)
	}
	again := mustLoad(t, dir)
	if again.UIDLs.Len() != 2 || !again.UIDLs.Has("b") || again.UIDLLog.Gen != 2 {
		t.Errorf("after the rewrite: %d UIDLs, generation %d; want 2 and 2", again.UIDLs.Len(), again.UIDLLog.Gen)
	}
}

func TestUIDLMigratesVersion1(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	v1 := fmt.Sprintf(`{"version":1,"task":"pop","done_uids":"","uidls":{"seen-now":%q,"gone-long":%q},"pending_uidls":["seen-now"]}`,
		now.Format(time.RFC3339Nano), now.Add(-40*24*time.Hour).Format(time.RFC3339Nano))
	if err := os.WriteFile(Path(dir, "pop"), []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	s := mustLoad(t, dir)
	if s.UIDLs.Len() != 2 || !s.UIDLs.Has("seen-now") || !reflect.DeepEqual(s.PendingUIDLs, []string{"seen-now"}) {
		t.Fatalf("migrated %d UIDLs, pending %v", s.UIDLs.Len(), s.PendingUIDLs)
	}
	// The grace period runs on from when each was last listed.
	s.PruneUIDLs([]string{"seen-now"}, now, 30*24*time.Hour)
	mustSave(t, s)
	back := mustLoad(t, dir)
	if back.Version != Version || back.UIDLs.Len() != 1 || !back.UIDLs.Has("seen-now") {
		t.Errorf("after saving: version %d, %d UIDLs; want %d and only seen-now", back.Version, back.UIDLs.Len(), Version)
	}
	if data, _ := os.ReadFile(Path(dir, "pop")); strings.Contains(string(data), `"uidls"`) {
		t.Errorf("the saved state still holds the old UIDL map:\n%s", data)
	}
}

func TestUIDLCorruptLogNamesTheFix(t *testing.T) {
	dir := t.TempDir()
	s := mustLoad(t, dir)
	s.UIDLs.Add("a")
	mustSave(t, s)
	if err := os.WriteFile(uidlPath(dir, "pop", s.UIDLLog.Gen), []byte("MTU1\x00\x00\x00\x01x12345678"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(dir, "pop")
	if err == nil || !strings.Contains(err.Error(), "mailtask state reset pop") || !strings.Contains(err.Error(), ".uidls.1") {
		t.Errorf("Load of a corrupt UIDL log: %v", err)
	}
	if err := os.Truncate(uidlPath(dir, "pop", s.UIDLLog.Gen), 5); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, "pop"); err == nil || !strings.Contains(err.Error(), "mailtask state reset pop") {
		t.Errorf("Load of a UIDL log shorter than the state says: %v", err)
	}
}

func TestResetRemovesUIDLLog(t *testing.T) {
	dir := t.TempDir()
	s := mustLoad(t, dir)
	s.UIDLs.Add("a")
	mustSave(t, s)
	if err := Reset(dir, "pop"); err != nil {
		t.Fatal(err)
	}
	for _, name := range listDir(t, dir) {
		if strings.HasPrefix(name, "pop.uidls") {
			t.Errorf("%s survived the reset", name)
		}
	}
	if s := mustLoad(t, dir); s.UIDLs.Len() != 0 {
		t.Errorf("%d UIDLs after reset", s.UIDLs.Len())
	}
}

// BenchmarkUIDLNoOpPoll is what a POP3 poll that finds 100,000 known
// messages costs the state: load, prune against the listing, save.
func BenchmarkUIDLNoOpPoll(b *testing.B) {
	dir := b.TempDir()
	all := uidls(100_000)
	s, err := Load(dir, "pop")
	if err != nil {
		b.Fatal(err)
	}
	for _, u := range all {
		s.UIDLs.Add(u)
	}
	if err := s.Save(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s, err := Load(dir, "pop")
		if err != nil {
			b.Fatal(err)
		}
		s.PruneUIDLs(all, time.Now(), 30*24*time.Hour)
		if err := s.Save(); err != nil {
			b.Fatal(err)
		}
	}
}
