package state

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// UIDs first seen at once make one range, gaps and all; another time
// starts the next. The state file keeps them, times and all.
func TestSettlingRangesRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	dir := t.TempDir()
	st, err := Load(dir, "t")
	if err != nil {
		t.Fatal(err)
	}
	for _, uid := range []uint32{5, 6, 7, 9} {
		st.Settling.Append(uid, t0)
	}
	st.Settling.Append(12, t1)
	want := Settling{{5, 9, t0}, {12, 12, t1}}
	if !slices.Equal(st.Settling, want) {
		t.Fatalf("settling %+v, want %+v", st.Settling, want)
	}
	for uid, seen := range map[uint32]time.Time{5: t0, 7: t0, 9: t0, 12: t1} {
		if got, ok := st.Settling.Seen(uid); !ok || !got.Equal(seen) {
			t.Errorf("Seen(%d) = %v, %v; want %v", uid, got, ok, seen)
		}
	}
	for _, uid := range []uint32{4, 10, 13} {
		if _, ok := st.Settling.Seen(uid); ok {
			t.Errorf("Seen(%d) reports a UID in no range", uid)
		}
	}
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir, "t")
	if err != nil || !slices.EqualFunc(back.Settling, want, func(a, b SettlingRange) bool {
		return a.First == b.First && a.Last == b.Last && a.Seen.Equal(b.Seen)
	}) {
		t.Fatalf("loaded settling %+v (err %v), want %+v", back.Settling, err, want)
	}
	// Nothing settling writes nothing.
	back.Settling = nil
	if err := back.Save(); err != nil {
		t.Fatal(err)
	}
	if data, err := readFile(Path(dir, "t")); err != nil || strings.Contains(string(data), "settling") {
		t.Errorf("a state with nothing settling: %s (err %v)", data, err)
	}
}

// What is settling is counted as the UIDs of its ranges that Done does
// not hold, and the oldest time is the earliest, whatever the ranges'
// order (a clock set back).
func TestCountSettling(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	st := &State{}
	if c := st.CountSettling(); c != nil {
		t.Errorf("nothing settling counts %+v", c)
	}
	st.Done.AddRange(1, 6)
	st.Done.Add(8)
	st.Settling = Settling{{5, 9, t0}, {12, 14, t0.Add(-time.Hour)}}
	c := st.CountSettling()
	if c == nil || c.Ranges != 2 || c.UIDsAtMost != 5 || !c.OldestSeen.Equal(t0.Add(-time.Hour)) {
		t.Errorf("CountSettling = %+v, want 5 UIDs (7, 9, 12, 13, 14) in 2 ranges, the oldest seen %v", c, t0.Add(-time.Hour))
	}
}
