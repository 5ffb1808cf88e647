package imap

import (
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/mailbox"
)

func TestSearchCriteria(t *testing.T) {
	since := time.Date(2025, 3, 8, 0, 0, 0, 0, time.UTC)
	c := searchCriteria(mailbox.Query{
		Header: []mailbox.HeaderTerm{
			{Field: "From", AnyOf: []string{"@acme.example", "@globex.example", "billing"}},
			{Field: "Subject", AnyOf: []string{"Invoice"}},
		},
		SentSince: since, Larger: 999, Smaller: 5001, Unseen: true,
	})
	if !c.SentSince.Equal(since) || c.Larger != 999 || c.Smaller != 5001 || len(c.NotFlag) != 1 || c.NotFlag[0] != imap.FlagSeen {
		t.Errorf("criteria %+v", c)
	}
	if len(c.Header) != 0 {
		t.Errorf("a header term outside the ORs: %+v", c.Header)
	}
	// Per term, OR a (OR b (OR c "=?")): every alternative reachable, and
	// the encoded word, nothing else.
	if len(c.Or) != 2 {
		t.Fatalf("or terms %+v", c.Or)
	}
	for i, want := range [][]string{{"From", "@acme.example", "@globex.example", "billing", "=?"}, {"Subject", "Invoice", "=?"}} {
		var got []string
		var walk func(sc imap.SearchCriteria)
		walk = func(sc imap.SearchCriteria) {
			for _, h := range sc.Header {
				if h.Key != want[0] {
					t.Errorf("term %d: field %q, want %q", i, h.Key, want[0])
				}
				got = append(got, h.Value)
			}
			for _, pair := range sc.Or {
				walk(pair[0])
				walk(pair[1])
			}
		}
		walk(imap.SearchCriteria{Or: c.Or[i : i+1]})
		if !slices.Equal(got, want[1:]) {
			t.Errorf("term %d: alternatives %q, want %q", i, got, want[1:])
		}
	}
}
