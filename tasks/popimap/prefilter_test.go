package popimap

import (
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/config"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// prefilterMails are two invoices and two newsletters; rules on the
// subject take the invoices.
func prefilterMails() [][]byte {
	return [][]byte{
		mail{subject: "Invoice 1", files: []testmail.Attachment{pdfFile("one.pdf")}}.raw(),
		mail{subject: "Newsletter March", files: []testmail.Attachment{pdfFile("news.pdf")}}.raw(),
		mail{subject: "Invoice 2", files: []testmail.Attachment{pdfFile("two.pdf")}}.raw(),
		mail{subject: "Re: Invoice 1"}.raw(),
	}
}

// Over POP3, which cannot search, the subject rule is checked on each
// header (TOP n 0) and only the invoices are retrieved.
func TestPOP3HeaderRulesSpareDownloads(t *testing.T) {
	var log commandLog
	f := newPOP3Fixture(t, testmail.POP3Options{Fault: log.hook}, prefilterMails(), "[task.match]", `subject = "Invoice*"`)
	sum := f.mustRun()
	if sum.Seen != 4 || sum.Saved != 2 || sum.Unmatched != 2 || sum.Files != 2 {
		t.Errorf("first run: %+v, want 4 seen, 2 saved, 2 unmatched, 2 files", sum)
	}
	if n := f.pop.Retrieved(); n != 2 {
		t.Errorf("%d messages retrieved, want the two invoices", n)
	}
	if got := f.files(); len(got) != 2 || got["one.pdf"] == "" || got["two.pdf"] == "" {
		t.Errorf("files %v, want one.pdf and two.pdf", sortedKeys(got))
	}
	if !slices.Contains(log.verbs(), "TOP") {
		t.Error("no TOP sent")
	}
	if sum := f.mustRun(); sum.Seen != 0 || f.pop.Retrieved() != 2 {
		t.Errorf("second run: %+v, %d retrieved in all; want nothing new", sum, f.pop.Retrieved())
	}
	if verbs := log.verbs(); slices.Contains(verbs, "TOP") || slices.Contains(verbs, "RETR") {
		t.Errorf("second run sent %v", verbs)
	}
}

// Over IMAP a regular expression cannot go into SEARCH; the headers are
// fetched (BODY.PEEK[HEADER]) and only matching messages downloaded.
func TestIMAPRegexRulesSpareDownloads(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, "[task.match]", `subject_regex = "^Invoice \\d+$"`)
	uids := f.appendUIDs(prefilterMails()...)
	sum := f.mustRun()
	if sum.Seen != 4 || sum.Saved != 2 || sum.Unmatched != 2 {
		t.Errorf("summary %+v, want 4 seen, 2 saved, 2 unmatched", sum)
	}
	if got, want := f.srv.FetchedUIDs(), []uint32{uids[0], uids[2]}; !slices.Equal(got, want) {
		t.Errorf("downloaded UIDs %v, want only the invoices %v", got, want)
	}
	for _, m := range f.srv.Messages("INBOX") {
		if hasFlag(m.Flags, `\Seen`) {
			t.Errorf("message %d marked seen by reading its header", m.UID)
		}
	}
	if st := loadState(t, f); st.Done.Len() != 4 {
		t.Errorf("done %s, want all four", st.Done.String())
	}
}

// Against Dovecot, the header rules are checked on headers fetched with
// BODY.PEEK[HEADER] and TOP n 0, and give what a full parse gives.
func TestDovecotHeaderRules(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	d.Seed(t, d.User, "INBOX", prefilterMails()...)
	for _, protocol := range []string{config.ProtocolIMAP, config.ProtocolPOP3} {
		cfg := dovecotProtocolConfig(t, d, protocol, "[task.match]", `subject_regex = "^Invoice \\d+$"`)
		sum := runCfg(t, cfg)
		if sum.Seen != 4 || sum.Saved != 2 || sum.Unmatched != 2 {
			t.Errorf("%s: %+v, want 4 seen, 2 saved, 2 unmatched", protocol, sum)
		}
		if got := filesIn(t, cfg.Tasks[0].Destination); len(got) != 2 || got["one.pdf"] == "" || got["two.pdf"] == "" {
			t.Errorf("%s: files %v, want one.pdf and two.pdf", protocol, sortedKeys(got))
		}
	}
	// The invoices are marked seen by the after-action; reading the
	// newsletters' headers marked nothing.
	c := dovecotClient(t, d)
	data, err := c.Search(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	mustT(t, err)
	if got := data.AllSeqNums(); !slices.Equal(got, []uint32{2, 4}) {
		t.Errorf("unseen messages %v, want the two refused by their headers, 2 and 4", got)
	}
}
