package pgstore

import (
	"testing"
	"time"
)

// A digest's scheduled time goes to the first node that claims it; a
// node coming late to an earlier one (its clock behind) finds it
// decided by the later claim, and claims older than digestHistory go.
func TestClaimDigest(t *testing.T) {
	url := migratedDB(t)
	a, b := openNode(t, url, "a"), openNode(t, url, "b")
	ctx := testContext(t)
	eight := time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		s    *Store
		due  time.Time
		want bool
	}{
		{a, eight, true},
		{b, eight, false},
		{a, eight, false},
		{b, eight.Add(24 * time.Hour), true},
		{a, eight.Add(-24 * time.Hour), false}, // late, and older than the latest
		{a, eight.Add(40 * 24 * time.Hour), true},
	} {
		got, err := c.s.ClaimDigest(ctx, c.due)
		if err != nil || got != c.want {
			t.Errorf("%s claims %s: %v, %v; want %v", c.s.Node(), c.due, got, err, c.want)
		}
	}
	if n := count(t, url, "SELECT count(*) FROM digests"); n != 1 {
		t.Errorf("%d digests kept, want the one within %s of the latest", n, digestHistory)
	}
}
