package popimap

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// dovecotClient logs in to d's IMAPS port as its default user and selects
// INBOX, for a test to set up or look at flags.
func dovecotClient(t *testing.T, d *dovecot.Server) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(d.IMAPSAddr, &imapclient.Options{TLSConfig: d.CA.ClientTLS()})
	mustT(t, err)
	t.Cleanup(func() { c.Close() })
	mustT(t, c.Login(d.User, d.Password).Wait())
	_, err = c.Select("INBOX", nil).Wait()
	mustT(t, err)
	return c
}

// TestDovecotWholeRuleSet runs every kind of rule, output and action at
// once against a real server: what Dovecot's SEARCH leaves out is never
// downloaded, what it lets through is judged exactly after parsing, and
// everything is recorded as done.
func TestDovecotWholeRuleSet(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	logo := testmail.Attachment{Name: "logo.png", ContentType: "image/png", Content: []byte("\x89PNG\r\n\x1a\nlogo"), Inline: true}
	invoice := pdfFile("invoice-1001.pdf")
	good := func(m mail) mail {
		if m.header == nil {
			m.header = []string{"X-Mailer: Canon iR-ADV"}
		}
		if m.files == nil {
			m.files = []testmail.Attachment{invoice, logo}
		}
		return m
	}
	msgs := []mail{
		good(mail{subject: "Invoice 1001"}),                                          // 1: taken
		good(mail{subject: "Invoice 1002", from: "x@evil.example"}),                  // 2: left out by SEARCH
		good(mail{subject: "Newsletter"}),                                            // 3: left out by SEARCH
		good(mail{subject: "Invoice 1004", from: "x@acme.example.evil"}),             // 4: downloaded, fails the glob
		good(mail{subject: "Invoice 1005", date: "Mon, 06 Jan 2020 10:00:00 +0000"}), // 5: left out by SEARCH (since)
		good(mail{subject: "Invoice 1006"}),                                          // 6: \Seen: left out by SEARCH
		good(mail{subject: "Invoice 1007", text: "Nothing here."}),                   // 7: downloaded, fails body_contains
		good(mail{subject: "Invoice 1008", files: []testmail.Attachment{logo}}),      // 8: downloaded, no selected attachment
		good(mail{subject: "Invoice 1009", header: []string{"X-Mailer: Outlook"}}),   // 9: left out by SEARCH (header)
	}
	raws := make([][]byte, len(msgs))
	for i, m := range msgs {
		raws[i] = m.raw()
	}
	d.Seed(t, d.User, "INBOX", raws...)
	c := dovecotClient(t, d)
	var six imap.UIDSet
	six.AddNum(6)
	mustT(t, c.Store(six, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close())

	cfg := dovecotConfig(t, d,
		`destination = "dest/{from_domain}/{yyyy}"`,
		`after = "keyword"`, `keyword = "$Processed"`,
		"[task.match]",
		`from = "*@acme.example"`,
		`subject = "Invoice *"`,
		`body_contains = "attached"`,
		`since = 2024-01-01`,
		`min_size = 300`,
		`max_size = "1MB"`,
		`has_attachments = true`,
		`unseen_only = true`,
		"[task.match.header]", `X-Mailer = "Canon*"`,
		"[task.attachments]", `include = "*.pdf"`, `inline = false`, `content_types = "application/pdf"`,
		"[task.output]", `metadata = true`, `file_name = "{yyyy}{mm}{dd}_{name}.{ext}"`, `message_name = "{uid}"`)
	searchAll(cfg) // what Dovecot's search lets through
	sum := runCfg(t, cfg)
	if sum.Seen != 4 || sum.Saved != 1 || sum.Unmatched != 3 || sum.Failed != 0 {
		t.Errorf("summary %+v: want 4 downloaded (1, 4, 7, 8), 1 taken, 3 not matching", sum)
	}
	root := filepath.Join(filepath.Dir(cfg.File), "dest")
	if got := sortedKeys(filesIn(t, root)); !slices.Equal(got, []string{"acme.example/2025/1.json", "acme.example/2025/20250314_invoice-1001.pdf"}) {
		t.Errorf("files %v", got)
	}
	st, err := state.Load(cfg.StateDir, "t")
	mustT(t, err)
	// What the search left out settles (search_settle): Dovecot's search
	// does not lag, and a later run after the default hour records it as
	// done. One run's worth is one range, interleaved as it is.
	if st.Done.String() != "1,4,7:8" || !slices.Equal(settlingUIDs(st), []uint32{2, 3, 5, 6, 9}) || len(st.Settling) != 1 {
		t.Errorf("done %s, settling %v in %d ranges; want the 4 downloaded done, the 5 the search left out settling in one", st.Done.String(), settlingUIDs(st), len(st.Settling))
	}
	flags, err := c.Fetch(imap.SeqSetNum(1, 2, 3, 4, 5, 6, 7, 8, 9), &imap.FetchOptions{UID: true, Flags: true}).Collect()
	mustT(t, err)
	for _, m := range flags {
		processed := hasFlag(m.Flags, "$Processed")
		if processed != (m.UID == 1) {
			t.Errorf("UID %d flags %v", m.UID, m.Flags)
		}
	}
	if again := runCfg(t, cfg); again.Seen != 0 {
		t.Errorf("second run %+v", again)
	}
	if all := judged(st); all.Len() != uint64(len(msgs)) || strings.Contains(all.String(), ",") {
		t.Errorf("done or settling %s, want all %d UIDs in one range", all.String(), len(msgs))
	}
}
