package popimap

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/config"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// TestMatchRulesOnServer runs each [task.match] rule against the in-process
// IMAP server with one message it selects and one it does not. Only the
// selected message's file is written; the other is recorded as done. When
// the rule can be pushed into UID SEARCH exactly, the other message is not
// even downloaded, in either server_search mode: by default its header
// and announced size refuse it.
func TestMatchRulesOnServer(t *testing.T) {
	now := time.Date(2025, 3, 20, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, rules string
		yes, no     mail
		noSeen      bool // append the non-matching message \Seen
		// pushed: the non-matching message is never downloaded: the
		// server's search leaves it out (server_search = "all"), or its
		// header and the size RFC822.SIZE announces refuse it (the
		// default, the flags alone in the search).
		pushed bool
	}{
		{name: "from", rules: `from = "*@acme.example"`, yes: mail{}, no: mail{from: "x@other.example"}, pushed: true},
		{name: "from lookalike", rules: `from = "*@acme.example"`, yes: mail{}, no: mail{from: "x@acme.example.evil"}},
		{name: "from display name", rules: `from = "Acme Billing"`, yes: mail{}, no: mail{from: "Acme Sales <billing@acme.example>"}},
		{name: "from_regex", rules: `from_regex = "^billing@"`, yes: mail{}, no: mail{from: "sales@acme.example"}},
		{name: "to", rules: `to = "invoices@*"`, yes: mail{}, no: mail{to: "hr@contoso.example"}, pushed: true},
		{name: "to_regex", rules: `to_regex = "^invoices@"`, yes: mail{}, no: mail{to: "hr@contoso.example"}},
		{name: "cc", rules: `cc = "*@auditor.example"`, yes: mail{cc: "a@auditor.example"}, no: mail{}, pushed: true},
		{name: "cc_regex", rules: `cc_regex = "auditor"`, yes: mail{cc: "a@auditor.example"}, no: mail{cc: "b@x.example"}},
		{name: "subject", rules: `subject = "Invoice *"`, yes: mail{}, no: mail{subject: "Newsletter"}, pushed: true},
		{name: "subject_regex", rules: `subject_regex = "invoice [0-9]{4}$"`, yes: mail{}, no: mail{subject: "Invoice 12"}},
		{name: "body_contains", rules: `body_contains = "please pay"`, yes: mail{text: "Please pay by Friday."}, no: mail{}},
		{name: "header", rules: "[task.match.header]\nX-Mailer = \"Canon*\"", yes: mail{header: []string{"X-Mailer: Canon iR"}}, no: mail{header: []string{"X-Mailer: Xerox"}}, pushed: true},
		{name: "header_regex", rules: "[task.match.header_regex]\nX-Mailer = \"^Canon\"", yes: mail{header: []string{"X-Mailer: Canon iR"}}, no: mail{header: []string{"X-Mailer: HP Canon"}}},
		{name: "since", rules: `since = 2025-03-10`, yes: mail{}, no: mail{date: "Mon, 03 Feb 2025 10:00:00 +0000"}, pushed: true},
		{name: "since same day", rules: `since = "2025-03-14T08:00:00Z"`, yes: mail{}, no: mail{date: "Fri, 14 Mar 2025 07:59:00 +0000"}},
		{name: "max_age", rules: `max_age = "10d"`, yes: mail{}, no: mail{date: "Mon, 03 Mar 2025 10:00:00 +0000"}, pushed: true},
		{name: "min_size", rules: `min_size = "4KB"`, yes: mail{pad: 5000}, no: mail{}, pushed: true},
		{name: "max_size", rules: `max_size = "4KB"`, yes: mail{}, no: mail{pad: 5000}, pushed: true},
		{name: "max_size with a header term", rules: "max_size = \"4KB\"\nsubject = \"Invoice*\"", yes: mail{}, no: mail{pad: 5000}, pushed: true},
		{name: "has_attachments", rules: `has_attachments = true`, yes: mail{}, no: mail{files: nil, subject: "no file"}},
		{name: "has_attachments counts selected files", rules: "has_attachments = true\n[task.attachments]\ninclude = \"*.pdf\"", yes: mail{},
			no: mail{files: []testmail.Attachment{{Name: "logo.png", ContentType: "image/png", Content: []byte("\x89PNG\r\n\x1a\n")}}}},
		{name: "unseen_only", rules: `unseen_only = true`, yes: mail{}, no: mail{subject: "read already"}, noSeen: true, pushed: true},
	} {
		for _, mode := range []string{config.ServerSearchFlags, config.ServerSearchAll} {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				// Every "yes" message carries invoice.pdf unless it says
				// otherwise; "no" messages carry other.pdf.
				if tc.yes.files == nil {
					tc.yes.files = []testmail.Attachment{pdfFile("invoice.pdf")}
				}
				if tc.no.files == nil && tc.name != "has_attachments" {
					tc.no.files = []testmail.Attachment{pdfFile("other.pdf")}
				}
				f := newFixture(t, testmail.IMAPOptions{}, "[task.match]", tc.rules)
				if mode == config.ServerSearchAll {
					searchAll(f.cfg)
				}
				yes := f.appendUIDs(tc.yes.raw())[0]
				var flags []imap.Flag
				if tc.noSeen {
					flags = append(flags, imap.FlagSeen)
				}
				no, err := f.srv.Append("INBOX", tc.no.raw(), flags...)
				mustT(t, err)

				sum, err := f.runAt(now)
				if err != nil {
					t.Fatal(err)
				}
				if got := sortedKeys(f.files()); !slices.Equal(got, []string{"invoice.pdf"}) {
					t.Errorf("files = %v, want only invoice.pdf", got)
				}
				fetched := f.srv.FetchedUIDs()
				if !slices.Contains(fetched, yes) {
					t.Errorf("the matching message %d was not fetched (fetched %v)", yes, fetched)
				}
				if tc.pushed && slices.Contains(fetched, no) {
					t.Errorf("the non-matching message %d was downloaded; the rule should be in UID SEARCH", no)
				}
				if !tc.pushed && sum.Unmatched != 1 {
					t.Errorf("summary %+v, want 1 unmatched after download", sum)
				}
				st, err := state.Load(f.cfg.StateDir, "t")
				mustT(t, err)
				if all := judged(st); !st.Done.Contains(yes) || !all.Contains(no) {
					t.Errorf("done = %s, settling %v, want %d done and %d done or settling", st.Done.String(), settlingUIDs(st), yes, no)
				}
				// Nothing is looked at again.
				before := len(f.srv.FetchedUIDs())
				if again, err := f.runAt(now); err != nil || again.Seen != 0 || len(f.srv.FetchedUIDs()) != before {
					t.Errorf("second run %+v, %v, fetched %d more", again, err, len(f.srv.FetchedUIDs())-before)
				}
			})
		}
	}
}

// TestServerSearchDownloadsOnlyMatching is the acceptance test of the
// issue: with a realistic rule set, the server counts what it sent, and
// only the messages that can match were downloaded.
func TestServerSearchDownloadsOnlyMatching(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, "[task.match]",
		`from = ["*@acme.example", "*@globex.example"]`,
		`subject = ["Invoice *", "Rechnung *"]`,
		`min_size = 200`)
	searchAll(f.cfg) // what goes into UID SEARCH
	uids := f.appendUIDs(
		mail{}.raw(), // 0: matches
		mail{from: "spam@evil.example"}.raw(),
		mail{subject: "Lunch on Friday?"}.raw(),
		mail{from: "ar@globex.example", subject: "Rechnung 12"}.raw(),         // 3: matches
		mail{from: "x@acme.example.evil.example", subject: "Invoice 1"}.raw(), // 4: passes the search, fails the glob
		mail{from: "x@other.example", subject: "Re: Invoice 4711 @acme.example"}.raw(),
	)
	sum := f.mustRun()
	fetched := f.srv.FetchedUIDs()
	slices.Sort(fetched)
	if want := []uint32{uids[0], uids[3], uids[4]}; !slices.Equal(fetched, want) {
		t.Errorf("downloaded %v, want only %v", fetched, want)
	}
	if sum.Seen != 3 || sum.Saved != 2 || sum.Unmatched != 1 {
		t.Errorf("summary %+v", sum)
	}
	st, _ := state.Load(f.cfg.StateDir, "t")
	for _, uid := range uids {
		if all := judged(st); !all.Contains(uid) {
			t.Errorf("UID %d not recorded as done or settling (done %s, settling %v)", uid, st.Done.String(), settlingUIDs(st))
		}
	}
	// New mail still arrives and is judged the same way.
	late := f.appendUIDs(mail{subject: "Invoice 4712"}.raw(), mail{subject: "Newsletter"}.raw())
	if sum := f.mustRun(); sum.Saved != 1 {
		t.Errorf("later run %+v", sum)
	}
	if got := f.srv.FetchedUIDs(); !slices.Contains(got, late[0]) || slices.Contains(got, late[1]) {
		t.Errorf("downloads %v; want %d and not %d", got, late[0], late[1])
	}
}

// POP3 has no search: the rules apply after download, with the same
// outcome.
func TestMatchRulesOnPOP3(t *testing.T) {
	msgs := [][]byte{
		mail{files: []testmail.Attachment{pdfFile("a.pdf")}}.raw(),
		mail{from: "x@other.example", files: []testmail.Attachment{pdfFile("b.pdf")}}.raw(),
		mail{subject: "Invoice big", pad: 10000, files: []testmail.Attachment{pdfFile("c.pdf")}}.raw(),
	}
	f := newPOP3Fixture(t, testmail.POP3Options{}, msgs, "[task.match]", `from = "*@acme.example"`, `max_size = "8KB"`)
	sum := f.mustRun()
	if got := sortedKeys(f.files()); !slices.Equal(got, []string{"a.pdf"}) {
		t.Errorf("files %v", got)
	}
	if sum.Seen != 3 || sum.Saved != 1 || sum.Unmatched != 2 {
		t.Errorf("summary %+v", sum)
	}
	if again := f.mustRun(); again.Seen != 0 {
		t.Errorf("second run %+v: non-matching messages were looked at again", again)
	}
}

func TestAttachmentSelection(t *testing.T) {
	png := testmail.Attachment{Name: "image001.png", ContentType: "image/png", Content: []byte("\x89PNG\r\n\x1a\nxxxxxxxx"), Inline: true}
	csv := testmail.Attachment{Name: "lines.csv", ContentType: "text/csv", Content: []byte("a,b\n1,2\n")}
	fake := testmail.Attachment{Name: "invoice-fake.pdf", ContentType: "application/pdf", Content: append([]byte("MZ"), make([]byte, 200)...)}
	big := testmail.Attachment{Name: "big.pdf", ContentType: "application/pdf", Content: pdf(strings.Repeat("x", 5000))}
	inner := mail{subject: "inner", files: []testmail.Attachment{pdfFile("inner.pdf")}}.raw()
	fwd := testmail.Attachment{Name: "forwarded.eml", ContentType: "message/rfc822", Content: inner}
	// A PDF dropped into the text by Apple Mail or iOS Mail: marked inline
	// among the attachments.
	scan := pdfFile("scan.pdf")
	scan.Inline = true
	all := []testmail.Attachment{pdfFile("invoice.pdf"), png, csv, fake, big, fwd, scan}
	for _, tc := range []struct {
		name, rules string
		want        []string
	}{
		{"everything by default", "", []string{"big.pdf", "forwarded.eml", "image001.png", "invoice-fake.pdf", "invoice.pdf", "lines.csv", "scan.pdf"}},
		{"include", `include = ["*.pdf", "*.CSV"]`, []string{"big.pdf", "invoice-fake.pdf", "invoice.pdf", "lines.csv", "scan.pdf"}},
		{"exclude", `exclude = ["image*", "*.eml"]`, []string{"big.pdf", "invoice-fake.pdf", "invoice.pdf", "lines.csv", "scan.pdf"}},
		{"content_types sniffed", `content_types = "application/pdf"`, []string{"big.pdf", "invoice.pdf", "scan.pdf"}},
		{"content_types glob", `content_types = ["image/*", "text/*"]`, []string{"image001.png", "lines.csv"}},
		{"min_size", `min_size = 2000`, []string{"big.pdf"}},
		{"max_size", `max_size = 100`, []string{"image001.png", "invoice.pdf", "lines.csv", "scan.pdf"}},
		{"inline false", `inline = false`, []string{"big.pdf", "forwarded.eml", "invoice-fake.pdf", "invoice.pdf", "lines.csv", "scan.pdf"}},
		{"nested extract", `nested = "extract"`, []string{"big.pdf", "image001.png", "inner.pdf", "invoice-fake.pdf", "invoice.pdf", "lines.csv", "scan.pdf"}},
		{"nested extract then include", "nested = \"extract\"\ninclude = \"inner*\"", []string{"inner.pdf"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testmail.IMAPOptions{}, "[task.attachments]", tc.rules)
			f.append(mail{files: all}.raw())
			f.mustRun()
			if got := sortedKeys(f.files()); !slices.Equal(got, tc.want) {
				t.Errorf("files %v, want %v", got, tc.want)
			}
		})
	}
}
