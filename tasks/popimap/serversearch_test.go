package popimap

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/config"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// indexedSearch answers UID SEARCH as Exchange does, from an index rather
// than the header: FROM "s" selects a message whose From display name
// holds s, not its address (HA-Mail-And-Packages#1405: FROM
// "mcinfo@ups.com" finds nothing where HEADER FROM finds the message), and
// LARGER/SMALLER compare the stored size, here twice the RFC 822 size that
// RFC822.SIZE announces ([MS-OXIMAP] V0040/V0041). The listing (UID n:*)
// and UNSEEN select every message of the range; the quarantine notice
// search finds none. It keeps every search's arguments.
type indexedSearch struct {
	raws [][]byte
	mu   sync.Mutex
	args []string
}

var (
	fromKey   = regexp.MustCompile(`FROM "((?:[^"\\]|\\.)*)"`)
	sizeKey   = regexp.MustCompile(`(LARGER|SMALLER) (\d+)`)
	nameInTag = regexp.MustCompile(`(?m)^From: "?([^"<]*)"?\s*<`)
)

func (s *indexedSearch) answer(w io.Writer, tag, args string) error {
	s.mu.Lock()
	s.args = append(s.args, args)
	s.mu.Unlock()
	first, last, ok := searchedRange(args, len(s.raws))
	if !ok {
		_, err := io.WriteString(w, tag+" BAD unexpected search "+args+"\r\n")
		return err
	}
	var uids []string
	for uid := first; uid <= last && !strings.Contains(args, "quarantine"); uid++ {
		raw := s.raws[uid-1]
		name := ""
		if n := nameInTag.FindSubmatch(raw); n != nil {
			name = strings.ToLower(string(n[1]))
		}
		froms := fromKey.FindAllStringSubmatch(args, -1)
		match := len(froms) == 0
		for _, f := range froms {
			match = match || strings.Contains(name, strings.ToLower(f[1]))
		}
		stored := int64(2 * len(raw))
		for _, k := range sizeKey.FindAllStringSubmatch(args, -1) {
			n, _ := strconv.ParseInt(k[2], 10, 64)
			match = match && (k[1] == "LARGER" && stored > n || k[1] == "SMALLER" && stored < n)
		}
		if match {
			uids = append(uids, strconv.Itoa(uid))
		}
	}
	_, err := fmt.Fprintf(w, "* SEARCH %s\r\n%s OK SEARCH completed.\r\n", strings.Join(uids, " "), tag)
	return err
}

func (s *indexedSearch) searches() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.args...)
}

// A server whose SEARCH goes through an index leaves out messages that
// match; by default (server_search = "flags") mailtask searches for the
// flags alone and judges the header and the announced size itself, so it
// takes them; "all" trusts the index and loses them, as before.
func TestServerSearchOnAnIndexedServer(t *testing.T) {
	raws := [][]byte{
		mail{from: `"UPS" <mcinfo@ups.com>`, subject: "Invoice 1"}.raw(),
		mail{from: `"Other" <billing@other.example>`, subject: "Invoice 2"}.raw(),
		mail{from: `"UPS" <pkginfo@ups.com>`, subject: "Invoice 3", pad: 4000}.raw(), // just under max_size
		mail{from: `"UPS" <mcinfo@ups.com>`, subject: "Invoice 4", pad: 9000}.raw(),  // over it
	}
	maxSize := len(raws[2]) + 10
	for _, c := range []struct {
		setting, want string
	}{
		{"# default", "1.eml 3.eml"},
		{`server_search = "flags"`, "1.eml 3.eml"},
		{`server_search = "all"`, ""}, // the index leaves out 1 (FROM) and 3 (SMALLER on the stored size)
	} {
		t.Run(c.setting, func(t *testing.T) {
			search := &indexedSearch{raws: raws}
			srv, err := testmail.StartScripted(testmail.IMAPScript{
				Capabilities: "IMAP4rev1 UIDPLUS MOVE",
				Messages:     raws,
				Replies:      map[string]func(io.Writer, string, string) error{"UID SEARCH": search.answer},
			}.Script())
			mustT(t, err)
			t.Cleanup(func() { srv.Close() })
			cfg := taskConfig(t, "exchange", accountTOML("exchange", config.ProtocolIMAP, srv.Addr(), config.TLSNone, "", "user", "password")+c.setting+"\n",
				"[task.output]", "eml = true", `message_name = "{uid}"`,
				"[task.match]", `from = "*@ups.com"`, fmt.Sprintf("max_size = %d", maxSize), "unseen_only = true")
			sum := runCfg(t, cfg)
			if got := strings.Join(sortedKeys(filesIn(t, cfg.Tasks[0].Destination)), " "); got != c.want {
				t.Errorf("took %q, want %q (summary %+v; searches %q)", got, c.want, sum.Counts, search.searches())
			}
			if c.setting == `server_search = "all"` {
				return
			}
			for _, args := range search.searches() {
				if fromKey.MatchString(args) || sizeKey.MatchString(args) {
					t.Errorf("searched %q: with the flags alone, no header or size key goes to the server", args)
				}
			}
		})
	}
}

// With the flags alone in the search, what it leaves out is the \Seen
// mail, and that settles as before: a seen quarantine notice is found by
// the notice search, warned of once it settles, and never downloaded.
func TestSeenNoticeSettlesWithFlagsAlone(t *testing.T) {
	notice, _ := quarantineFixtures(t)
	f := newFixture(t, testmail.IMAPOptions{}, "[task.match]", `subject = "Invoice *"`, "unseen_only = true")
	f.appendUIDs(prefilterMails()...)
	seen, err := f.srv.Append("INBOX", notice, imap.FlagSeen)
	mustT(t, err)
	start := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	var notices []int
	for _, at := range []time.Duration{0, config.DefaultSearchSettle} {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		sum, err := Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], Now: func() time.Time { return start.Add(at) }})
		cancel()
		mustT(t, err)
		notices = append(notices, len(sum.Notices))
	}
	if !slices.Equal(notices, []int{0, 1}) {
		t.Errorf("the runs met %v notices; want the second, which settles the seen notice, alone to", notices)
	}
	if got := strings.Join(sortedKeys(f.files()), " "); got != "one.pdf two.pdf" {
		t.Errorf("files %q, want the two invoices'", got)
	}
	if slices.Contains(f.srv.FetchedUIDs(), seen) {
		t.Errorf("downloaded UIDs %v include the seen notice's, %d", f.srv.FetchedUIDs(), seen)
	}
	st, err := state.Load(f.cfg.StateDir, "t")
	mustT(t, err)
	if st.Done.Len() != 5 || st.Settling != nil {
		t.Errorf("done %s, settling %v; want all 5 UIDs done", st.Done.String(), settlingUIDs(st))
	}
}

// A size the listing announces is judged with a tenth's slack, since a
// refusal before the download is final and servers announce sizes worked
// out apart from the bytes they send: a message announced just past
// max_size whose bytes are within it is taken, and one announced within
// the slack whose bytes are past it is downloaded and refused.
func TestAnnouncedSizeIsJudgedWithSlack(t *testing.T) {
	small := scan(1)
	maxSize := len(small) + 100
	var over []byte // bytes past max_size, by less than a tenth
	for k := 0; len(over) <= maxSize+20; k += 16 {
		over = testmail.NewMessage("scan 3", testmail.Attachment{Name: "scan-3.pdf", ContentType: "application/pdf", Content: pdf(strings.Repeat("3", k))})
	}
	if len(over) > maxSize+maxSize/10 {
		t.Fatalf("the test's message 3 is %d bytes, past max_size %d by more than a tenth", len(over), maxSize)
	}
	var log commandLog
	log.set("LIST", fmt.Sprintf("+OK 2 messages\r\n1 %d\r\n2 %d\r\n.", maxSize+maxSize/20, len(over)))
	f := newPOP3Fixture(t, testmail.POP3Options{Fault: log.hook}, [][]byte{small, over}, "[task.match]", fmt.Sprintf("max_size = %d", maxSize))
	sum := f.mustRun()
	if sum.Saved != 1 || !slices.Equal(sortedKeys(f.files()), []string{"scan-1.pdf"}) {
		t.Errorf("summary %+v, files %v; want scan-1.pdf, its message announced past max_size by a twentieth but within it", sum.Counts, sortedKeys(f.files()))
	}
	if !slices.Contains(log.cmds, "RETR 2") {
		t.Errorf("commands %v: message 2, announced within max_size, was not downloaded to be judged on its bytes", log.cmds)
	}
}
