package popimap

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// laggingSearch answers UID SEARCH over subjects as an indexed server
// does: the listing (UID n:*) holds every message from n on, or the
// highest, as RFC 3501 has it; a SUBJECT search selects, within its UID
// range, the messages whose subject holds the string, but for those in
// unindexed, which it leaves out until it has answered once without
// them, as Exchange answers an empty SEARCH for a message just
// delivered and finds it in a later, identical search. The quarantine
// notice search finds none.
type laggingSearch struct {
	subjects  []string
	mu        sync.Mutex
	unindexed map[int]bool
}

var uidRangeArg = regexp.MustCompile(`^UID (\d+)(?::(\d+|\*))?`)

// searchedRange is the UIDs a scripted server's UID SEARCH args ask
// about, first to last, in a folder of n messages; false when args do
// not start with a UID set.
func searchedRange(args string, n int) (first, last int, ok bool) {
	m := uidRangeArg.FindStringSubmatch(args)
	if m == nil {
		return 0, 0, false
	}
	first, _ = strconv.Atoi(m[1])
	switch m[2] {
	case "":
		last = first
	case "*":
		last = n
	default:
		last, _ = strconv.Atoi(m[2])
	}
	return first, last, true
}

// startLaggingIndex starts a scripted server holding Invoice 1, a
// newsletter and Invoice 2, whose search index has not caught up with
// Invoice 2 (laggingSearch), and a task taking "Invoice *" from it with
// the rules in the server's search.
func startLaggingIndex(t *testing.T) (*testmail.ScriptedServer, *config.Config) {
	subjects := []string{"Invoice 1", "Newsletter", "Invoice 2"}
	var raws [][]byte
	for _, s := range subjects {
		raws = append(raws, mail{subject: s}.raw())
	}
	search := &laggingSearch{subjects: subjects, unindexed: map[int]bool{3: true}}
	srv, err := testmail.StartScripted(testmail.IMAPScript{
		Messages: raws,
		Replies:  map[string]func(io.Writer, string, string) error{"UID SEARCH": search.answer},
	}.Script())
	mustT(t, err)
	t.Cleanup(func() { srv.Close() })
	cfg := taskConfig(t, "lag", accountTOML("lag", config.ProtocolIMAP, srv.Addr(), config.TLSNone, "", "user", "password"),
		"[task.output]", "eml = true", `message_name = "{uid}"`, "[task.match]", `subject = "Invoice *"`)
	return srv, cfg
}

func (l *laggingSearch) answer(w io.Writer, tag, args string) error {
	first, last, ok := searchedRange(args, len(l.subjects))
	if !ok {
		_, err := io.WriteString(w, tag+" BAD unexpected search "+args+"\r\n")
		return err
	}
	var uids []string
	switch {
	case strings.Contains(args, "quarantine"):
	case strings.Contains(args, `SUBJECT "Invoice"`):
		l.mu.Lock()
		for uid := first; uid <= last; uid++ {
			if l.unindexed[uid] {
				delete(l.unindexed, uid) // indexed by the next search
				continue
			}
			if strings.Contains(l.subjects[uid-1], "Invoice") {
				uids = append(uids, strconv.Itoa(uid))
			}
		}
		l.mu.Unlock()
	default: // the listing
		for uid := min(first, last); uid <= last; uid++ {
			uids = append(uids, strconv.Itoa(uid))
		}
	}
	_, err := fmt.Fprintf(w, "%s\r\n%s OK SEARCH completed\r\n", strings.TrimSpace("* SEARCH "+strings.Join(uids, " ")), tag)
	return err
}

// A server whose search index has not caught up with the newest message,
// an invoice, leaves it out of the rules' search at the first run: it is
// not recorded as done but settles, and the second run's search, which
// finds it, takes it. The newsletter the search leaves out at every run
// is searched again, in the same single UID SEARCH, until a run at least
// search_settle (the default hour) after the first records it as done;
// a later run does not search it again. No run downloads the newsletter.
func TestLaggingSearchCostsNoMail(t *testing.T) {
	srv, cfg := startLaggingIndex(t)
	searchAll(cfg) // a lagging SUBJECT search
	start := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	runs := []struct {
		at       time.Duration
		files    string
		done     string
		settling []uint32
		searches []string // the UID SEARCHes the run sends
	}{
		{0, "1.eml", "1", []uint32{2, 3}, []string{"UID 1:*", `UID 1:3 OR (SUBJECT "Invoice")`, "UID 2:3 OR (FROM"}},
		{time.Minute, "1.eml 3.eml", "1,3", []uint32{2}, []string{"UID 2:*", `UID 2:3 OR (SUBJECT "Invoice")`, "UID 2 OR (FROM"}},
		{config.DefaultSearchSettle - time.Second, "1.eml 3.eml", "1,3", []uint32{2}, []string{"UID 2:*", `UID 2 OR (SUBJECT "Invoice")`, "UID 2 OR (FROM"}},
		{config.DefaultSearchSettle, "1.eml 3.eml", "1:3", nil, []string{"UID 2:*", `UID 2 OR (SUBJECT "Invoice")`, "UID 2 OR (FROM"}},
		{config.DefaultSearchSettle + time.Minute, "1.eml 3.eml", "1:3", nil, []string{"UID 4:*"}},
	}
	for i, run := range runs {
		before := len(srv.Lines())
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		_, err := Run(ctx, Options{Config: cfg, Task: cfg.Tasks[0], Now: func() time.Time { return start.Add(run.at) }})
		cancel()
		mustT(t, err)
		if got := strings.Join(sortedKeys(filesIn(t, cfg.Tasks[0].Destination)), " "); got != run.files {
			t.Errorf("run %d: took %s, want %s", i+1, got, run.files)
		}
		st, err := state.Load(cfg.StateDir, "t")
		mustT(t, err)
		if st.Done.String() != run.done || !slices.Equal(settlingUIDs(st), run.settling) {
			t.Errorf("run %d: done %s, settling %v; want done %s, settling %v", i+1, st.Done.String(), settlingUIDs(st), run.done, run.settling)
		}
		var searches []string
		for _, line := range srv.Lines()[before:] {
			if _, args, ok := strings.Cut(line, " UID SEARCH "); ok {
				searches = append(searches, args)
			}
		}
		if len(searches) != len(run.searches) {
			t.Errorf("run %d: searched %q, want %q", i+1, searches, run.searches)
			continue
		}
		for j, want := range run.searches {
			if !strings.HasPrefix(searches[j], want) {
				t.Errorf("run %d: searched %q, want %q", i+1, searches, run.searches)
				break
			}
		}
	}
	for _, line := range srv.Lines() {
		if strings.Contains(line, "FETCH 2 ") || strings.Contains(line, "FETCH 2:") {
			t.Errorf("the newsletter was fetched: %s", line)
		}
	}
}

// A quarantine notice the rules' search leaves out settles with the rest
// of what it leaves out: it is warned of once, by the run that records
// it as done, search_settle after the first run saw it, and its header
// alone is read then, neither before nor after.
func TestNoticeLeftOutBySearchWarnedWhenSettled(t *testing.T) {
	notice, _ := quarantineFixtures(t)
	var fetches atomic.Int32
	f := newFixture(t, testmail.IMAPOptions{Fault: func(cmd string) error {
		if cmd == "FETCH" {
			fetches.Add(1)
		}
		return nil
	}}, "[task.match]", `subject = "Invoice *"`)
	searchAll(f.cfg)
	uids := f.appendUIDs(append(prefilterMails(), notice)...)
	start := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	var warned, notices, fetched []int
	for _, at := range []time.Duration{0, config.DefaultSearchSettle / 2, config.DefaultSearchSettle, config.DefaultSearchSettle + time.Minute} {
		var logs bytes.Buffer
		fetches.Store(0)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		sum, err := Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return start.Add(at) }})
		cancel()
		mustT(t, err)
		warned = append(warned, strings.Count(logs.String(), `level=WARN msg="Microsoft 365 holds some messages`))
		notices = append(notices, len(sum.Notices))
		fetched = append(fetched, int(fetches.Load()))
	}
	if !slices.Equal(warned, []int{0, 0, 1, 0}) || !slices.Equal(notices, []int{0, 0, 1, 0}) {
		t.Errorf("the runs warned %v times and met %v notices; want the third alone, which settles it, to warn of the notice", warned, notices)
	}
	// The first run downloads the invoices; the third reads the notice's
	// header.
	if !slices.Equal(fetched[1:], []int{0, 1, 0}) {
		t.Errorf("the runs sent %v FETCHes; want none but the first's downloads and the third's header of the notice", fetched)
	}
	st, err := state.Load(f.cfg.StateDir, "t")
	mustT(t, err)
	if st.Done.Len() != uint64(len(uids)) || st.Settling != nil {
		t.Errorf("done %s, settling %v; want all %d UIDs done", st.Done.String(), settlingUIDs(st), len(uids))
	}
	if slices.Contains(f.srv.FetchedUIDs(), uids[4]) {
		t.Errorf("downloaded UIDs %v include the notice's, %d", f.srv.FetchedUIDs(), uids[4])
	}
}

// A UIDVALIDITY change drops what settles with the rest of the state:
// the UIDs name other messages now, and the time one was first seen
// left out must not settle another early. The invoice the lagging index
// leaves out at first settles anew, and the next run takes it.
func TestUIDValidityChangeDropsSettling(t *testing.T) {
	_, cfg := startLaggingIndex(t)
	searchAll(cfg)
	start := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	// The folder's UIDVALIDITY was 7; the scripted server's is 1.
	st, err := state.Load(cfg.StateDir, "t")
	mustT(t, err)
	st.UIDValidity = 7
	st.Settling.Append(2, start.Add(-2*config.DefaultSearchSettle))
	st.Settling.Append(3, start.Add(-2*config.DefaultSearchSettle))
	mustT(t, st.Save())
	for _, at := range []time.Duration{0, time.Minute} {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		_, err := Run(ctx, Options{Config: cfg, Task: cfg.Tasks[0], Now: func() time.Time { return start.Add(at) }})
		cancel()
		mustT(t, err)
	}
	if got := strings.Join(sortedKeys(filesIn(t, cfg.Tasks[0].Destination)), " "); got != "1.eml 3.eml" {
		t.Errorf("took %s, want 1.eml and 3.eml, the invoice the index lagged on", got)
	}
	st, err = state.Load(cfg.StateDir, "t")
	mustT(t, err)
	if st.UIDValidity != 1 || st.Done.String() != "1,3" || len(st.Settling) != 1 || !st.Settling[0].Seen.Equal(start) {
		t.Errorf("uidvalidity %d, done %s, settling %+v; want 1, done 1 and 3, 2 settling since the first run", st.UIDValidity, st.Done.String(), st.Settling)
	}
}
