package imap

import (
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
	if len(c.Header) != 1 || c.Header[0] != (imap.SearchCriteriaHeaderField{Key: "Subject", Value: "Invoice"}) {
		t.Errorf("single-value term: %+v", c.Header)
	}
	// OR a (OR b c): every alternative reachable, nothing else.
	if len(c.Or) != 1 {
		t.Fatalf("or terms %+v", c.Or)
	}
	var got []string
	var walk func(sc imap.SearchCriteria)
	walk = func(sc imap.SearchCriteria) {
		for _, h := range sc.Header {
			got = append(got, h.Value)
		}
		for _, pair := range sc.Or {
			walk(pair[0])
			walk(pair[1])
		}
	}
	walk(imap.SearchCriteria{Or: c.Or})
	if len(got) != 3 || got[0] != "@acme.example" || got[1] != "@globex.example" || got[2] != "billing" {
		t.Errorf("alternatives %q", got)
	}
}
