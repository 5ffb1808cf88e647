package state

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestUIDSetAdd(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ranges [][2]uint32
		want   string
	}{
		{"empty", nil, ""},
		{"single", [][2]uint32{{5, 5}}, "5"},
		{"adjacent singles merge", [][2]uint32{{1, 1}, {2, 2}, {3, 3}}, "1:3"},
		{"out of order", [][2]uint32{{3, 3}, {1, 1}, {2, 2}}, "1:3"},
		{"gap kept", [][2]uint32{{1, 1}, {3, 3}}, "1,3"},
		{"overlapping ranges", [][2]uint32{{1, 10}, {5, 20}}, "1:20"},
		{"range swallows several", [][2]uint32{{1, 2}, {5, 6}, {9, 10}, {3, 8}}, "1:10"},
		{"range touching both sides", [][2]uint32{{1, 4}, {10, 12}, {5, 9}}, "1:12"},
		{"inside existing", [][2]uint32{{1, 100}, {50, 60}}, "1:100"},
		{"reversed bounds", [][2]uint32{{9, 7}}, "7:9"},
		{"zero ignored", [][2]uint32{{0, 0}}, ""},
		{"zero clipped", [][2]uint32{{0, 3}}, "1:3"},
		{"insert before", [][2]uint32{{10, 20}, {1, 5}}, "1:5,10:20"},
		{"insert between", [][2]uint32{{1, 2}, {20, 30}, {10, 11}}, "1:2,10:11,20:30"},
		{"top of UID space", [][2]uint32{{math.MaxUint32, math.MaxUint32}, {math.MaxUint32 - 1, math.MaxUint32 - 1}}, "4294967294:4294967295"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s UIDSet
			for _, r := range tc.ranges {
				s.AddRange(r[0], r[1])
			}
			if got := s.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestUIDSetAgainstMap checks every operation against a plain map under
// random inserts, which catches merge mistakes a table misses.
func TestUIDSetAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s UIDSet
	ref := map[uint32]bool{}
	for range 2000 {
		lo := rng.Uint32N(500) + 1
		hi := lo + rng.Uint32N(4)
		if rng.IntN(3) == 0 {
			hi = lo
			s.Add(lo)
		} else {
			s.AddRange(lo, hi)
		}
		for u := lo; u <= hi; u++ {
			ref[u] = true
		}
	}
	for u := uint32(0); u <= 520; u++ {
		if s.Contains(u) != ref[u] {
			t.Fatalf("Contains(%d) = %v, want %v (set %s)", u, s.Contains(u), ref[u], s.String())
		}
	}
	if s.Len() != uint64(len(ref)) {
		t.Errorf("Len() = %d, want %d", s.Len(), len(ref))
	}
	want := uint32(1)
	for ref[want] {
		want++
	}
	if got := s.FirstMissing(); got != want {
		t.Errorf("FirstMissing() = %d, want %d", got, want)
	}
	for i := 1; i < len(s.r); i++ {
		if uint64(s.r[i-1].hi)+1 >= uint64(s.r[i].lo) {
			t.Fatalf("ranges %v and %v are not sorted and separated", s.r[i-1], s.r[i])
		}
	}
}

func TestUIDSetFirstMissing(t *testing.T) {
	for _, tc := range []struct {
		set  string
		want uint32
	}{
		{"", 1},
		{"2:10", 1},
		{"1", 2},
		{"1:9,11", 10},
		{"1:4294967295", 0},
	} {
		s, err := ParseUIDSet(tc.set)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.FirstMissing(); got != tc.want {
			t.Errorf("FirstMissing(%q) = %d, want %d", tc.set, got, tc.want)
		}
	}
}

func TestUIDSetLenFull(t *testing.T) {
	var s UIDSet
	s.AddRange(1, math.MaxUint32)
	if s.Len() != math.MaxUint32 {
		t.Errorf("Len() = %d, want %d", s.Len(), uint64(math.MaxUint32))
	}
}

func TestUIDSetJSONRoundTrip(t *testing.T) {
	for _, text := range []string{"", "1", "1:500,502,510:9000", "7,4294967295"} {
		s, err := ParseUIDSet(text)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back UIDSet
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if back.String() != text {
			t.Errorf("round trip of %q gave %q via %s", text, back.String(), b)
		}
	}
}

func TestUIDSetParseNormalises(t *testing.T) {
	s, err := ParseUIDSet("10:12,1,3:2,11,4")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.String(), "1:4,10:12"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestUIDSetUnmarshalMalformed(t *testing.T) {
	for _, in := range []string{
		`"0"`, `"1:0"`, `"1:"`, `":5"`, `"1,,2"`, `","`, `"a"`, `"*"`, `"1:*"`,
		`"4294967296"`, `" 1"`, `"1 "`, `"-1"`, `"+1"`, `"1;2"`, `5`, `[1]`, `{}`,
	} {
		var s UIDSet
		err := json.Unmarshal([]byte(in), &s)
		if err == nil {
			t.Errorf("Unmarshal(%s) accepted it as %q", in, s.String())
			continue
		}
		if !strings.Contains(err.Error(), "UID set") {
			t.Errorf("Unmarshal(%s) error %q does not say what is wrong", in, err)
		}
	}
	var s UIDSet
	if err := json.Unmarshal([]byte(`null`), &s); err != nil || s.Len() != 0 {
		t.Errorf("null: %v, %q; want the empty set", err, s.String())
	}
}

func TestUIDSetMillionContiguous(t *testing.T) {
	var s UIDSet
	for u := uint32(1); u <= 1_000_000; u++ {
		s.Add(u)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) >= 20 {
		t.Errorf("JSON is %d bytes (%s), want under 20", len(b), b)
	}
	if s.Len() != 1_000_000 || s.FirstMissing() != 1_000_001 {
		t.Errorf("Len %d FirstMissing %d", s.Len(), s.FirstMissing())
	}
}

func TestUIDSetEveryThirdMissing(t *testing.T) {
	const n = 100_000
	var s UIDSet
	for u := uint32(1); u <= n; u++ {
		if u%3 != 0 {
			s.Add(u)
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back UIDSet
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for u := uint32(0); u <= n+2; u++ {
		want := u >= 1 && u <= n && u%3 != 0
		if back.Contains(u) != want {
			t.Fatalf("Contains(%d) = %v, want %v", u, back.Contains(u), want)
		}
	}
	if back.Len() != n-n/3 {
		t.Errorf("Len() = %d, want %d", back.Len(), n-n/3)
	}
	if back.FirstMissing() != 3 {
		t.Errorf("FirstMissing() = %d, want 3", back.FirstMissing())
	}
}

func TestUIDSetAll(t *testing.T) {
	s, err := ParseUIDSet("1:3,7,4294967294:4294967295")
	if err != nil {
		t.Fatal(err)
	}
	got := slices.Collect(s.All())
	want := []uint32{1, 2, 3, 7, 4294967294, 4294967295}
	if !slices.Equal(got, want) {
		t.Errorf("All() = %v, want %v", got, want)
	}
	if s.IsZero() || !(UIDSet{}).IsZero() {
		t.Error("IsZero wrong")
	}
}

func TestUIDSetRemove(t *testing.T) {
	var s UIDSet
	s.AddRange(1, 10)
	s.Add(20)
	for _, uid := range []uint32{1, 5, 10, 20, 30, 0} {
		s.Remove(uid)
	}
	if got := s.String(); got != "2:4,6:9" {
		t.Errorf("after removals: %q, want 2:4,6:9", got)
	}
	s.Remove(3)
	s.Remove(2)
	s.Remove(4)
	if got := s.String(); got != "6:9" {
		t.Errorf("after emptying a range: %q, want 6:9", got)
	}
}

func TestUIDSetCountIn(t *testing.T) {
	var s UIDSet
	s.AddRange(1, 4)
	s.Add(6)
	s.AddRange(8, 10)
	for _, c := range []struct {
		lo, hi uint32
		want   uint64
	}{{3, 9, 5}, {5, 5, 0}, {6, 6, 1}, {11, 20, 0}, {0, math.MaxUint32, s.Len()}} {
		if got := s.CountIn(c.lo, c.hi); got != c.want {
			t.Errorf("CountIn(%d, %d) of %s = %d, want %d", c.lo, c.hi, s.String(), got, c.want)
		}
	}
}
