package state

import (
	"slices"
	"testing"
	"time"
)

func TestUIDLChangesReplayToTheSameSet(t *testing.T) {
	var s UIDLSet
	for _, u := range []string{"a", "b", "c"} {
		s.Add(u)
	}
	st := &State{UIDLs: s}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	st.PruneUIDLs([]string{"a", "b"}, now, 0)                   // c goes missing
	st.PruneUIDLs([]string{"a", "b"}, now.Add(48*time.Hour), 0) // and is forgotten
	st.UIDLs.Add("d")

	var replayed UIDLSet
	for _, c := range st.UIDLs.Changes() {
		if c.Forget {
			delete(replayed.missing, uidlHash(c.Hash))
			continue
		}
		replayed.Restore(c.Hash, c.MissingDay)
	}
	if replayed.Len() != 3 || !replayed.Has("a") || !replayed.Has("d") || replayed.Has("c") {
		t.Fatalf("replaying the changes gives %d UIDLs (a %v, d %v, c %v); want a, b, d",
			replayed.Len(), replayed.Has("a"), replayed.Has("d"), replayed.Has("c"))
	}
	if len(replayed.Changes()) != 0 {
		t.Fatal("Restore counted as a change")
	}
	st.UIDLs.ChangesSaved()
	if c := st.UIDLs.Changes(); len(c) != 0 {
		t.Fatalf("after ChangesSaved: %d changes", len(c))
	}
	st.UIDLs.Add("e")
	if c := st.UIDLs.Changes(); len(c) != 1 || c[0].Hash != uint64(hashUIDL("e")) || c[0].Forget {
		t.Fatalf("changes after adding e: %+v", c)
	}
	var hashes []uint64
	for h := range st.UIDLs.All() {
		hashes = append(hashes, h)
	}
	if len(hashes) != 4 || !slices.Contains(hashes, uint64(hashUIDL("e"))) {
		t.Fatalf("All yields %d hashes, want 4 with e's", len(hashes))
	}
}

func TestMigratedUIDLsAreAllChanges(t *testing.T) {
	s := migrateUIDLs(map[string]time.Time{"x": time.Now(), "y": time.Now()})
	if c := s.Changes(); len(c) != 2 {
		t.Fatalf("a migrated set has %d changes, want its 2 UIDLs", len(c))
	}
}
