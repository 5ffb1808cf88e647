package imap

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/mailbox"
	"mailtask/internal/rules"
	"mailtask/internal/testmail"
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

// A run searching for the messages its rules select asks, when that
// search leaves some out, for the quarantine notices among those with one
// UID SEARCH over their range: the notice's sender or its subject, each
// with the encoded word, so that a server searching raw text (mox) loses
// none. Of its answer only the messages left out are watched: a message
// the rules' search selected stays new, whatever the second says of it.
func TestNewMatchingWatchesForNotices(t *testing.T) {
	answers := map[string]string{
		"UID 1:*":           "* SEARCH 1 2 3 4 5",
		`SUBJECT "Invoice"`: "* SEARCH 1 3",
		"quarantine":        "* SEARCH 3 5",
	}
	srv, s := selected(t, testmail.IMAPScript{Messages: messages(5), Replies: map[string]func(io.Writer, string, string) error{
		"UID SEARCH": func(w io.Writer, tag, args string) error {
			for key, answer := range answers {
				if strings.Contains(args, key) {
					_, err := io.WriteString(w, answer+"\r\n"+tag+" OK SEARCH completed\r\n")
					return err
				}
			}
			_, err := io.WriteString(w, tag+" BAD unexpected search\r\n")
			return err
		},
	}})
	q := mailbox.Query{Header: []mailbox.HeaderTerm{{Field: "Subject", AnyOf: []string{"Invoice"}}}}
	var (
		found mailbox.Found
		err   error
	)
	testmail.Within(t, 30*time.Second, func() { found, err = s.NewMatching(t.Context(), mailbox.NoneTaken, q, rules.NoticeTerms()) })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(uidsOf(found.New), []uint32{1, 3}) || !slices.Equal(uidsOf(found.Watched), []uint32{5}) {
		t.Errorf("new %v, watched %v; want new 1 and 3, watched 5", uidsOf(found.New), uidsOf(found.Watched))
	}
	if !slices.Equal(uidsOf(found.Left), []uint32{2, 4, 5}) || len(found.Done) != 0 {
		t.Errorf("left out %v, done %v; want 2, 4 and 5 left out, for the caller to settle, and none done", uidsOf(found.Left), found.Done)
	}
	var searches []string
	for _, line := range srv.Lines() {
		if _, cmd, _ := strings.Cut(line, " "); strings.HasPrefix(cmd, "UID SEARCH") {
			searches = append(searches, cmd)
		}
	}
	want := []string{
		"UID SEARCH UID 1:*",
		`UID SEARCH UID 1:5 OR (SUBJECT "Invoice") (SUBJECT "=?")`,
		`UID SEARCH UID 2:5 OR (FROM "quarantine@messaging.microsoft.com") (OR (FROM "=?") (OR (SUBJECT "Microsoft 365 security: You have messages in quarantine") (SUBJECT "=?")))`,
	}
	if !slices.Equal(searches, want) {
		t.Errorf("searches\n%s\nwant\n%s", strings.Join(searches, "\n"), strings.Join(want, "\n"))
	}
}

// When the rules' search leaves nothing out, there is nothing to watch:
// no further search.
func TestNewMatchingTakingAllSearchesOnce(t *testing.T) {
	srv, s := selected(t, searching(3, "* SEARCH 1 2 3"))
	q := mailbox.Query{Header: []mailbox.HeaderTerm{{Field: "Subject", AnyOf: []string{"Invoice"}}}}
	found, err := s.NewMatching(t.Context(), mailbox.NoneTaken, q, rules.NoticeTerms())
	if err != nil || len(found.New) != 3 || len(found.Watched) != 0 {
		t.Fatalf("new %v, watched %v, %v; want 3 new", uidsOf(found.New), uidsOf(found.Watched), err)
	}
	n := 0
	for _, line := range srv.Lines() {
		if strings.Contains(line, "UID SEARCH") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d searches, want the listing's and the rules'", n)
	}
}
