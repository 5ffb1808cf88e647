package popimap

import (
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

func TestAfterKeyword(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, `after = "keyword"`, `keyword = "$Processed"`)
	f.append(mail{files: []testmail.Attachment{pdfFile("a.pdf")}}.raw())
	f.mustRun()
	m := f.srv.Messages("INBOX")
	if len(m) != 1 || !hasFlag(m[0].Flags, "$Processed") || hasFlag(m[0].Flags, imap.FlagSeen) {
		t.Errorf("inbox %+v, want the keyword set and nothing else", m)
	}
}

// Messages that could not be parsed get after_failure; taken ones the
// after-action; non-matching ones nothing.
func TestAfterFailure(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{Mailboxes: []string{"Processed", "Failed"}},
		`after = "move"`, `move_to = "Processed"`,
		`after_failure = "keyword"`,
		// A regular expression is not pushed into the search, so the
		// broken message is downloaded (and quarantined) too.
		"[task.match]", `subject_regex = "^Invoice"`)
	good := f.appendUIDs(mail{files: []testmail.Attachment{pdfFile("a.pdf")}}.raw(), mail{subject: "Newsletter"}.raw())[0]
	bad := f.appendUIDs([]byte("this is not a mail message at all\x00\x01\x02"))[0]
	sum := f.mustRun()
	if sum.Failed != 1 || sum.Saved != 1 {
		t.Fatalf("summary %+v", sum)
	}
	processed := f.srv.Messages("Processed")
	if len(processed) != 1 {
		t.Errorf("Processed holds %d, want the good message", len(processed))
	}
	inbox := f.srv.Messages("INBOX")
	if len(inbox) != 2 {
		t.Fatalf("inbox holds %d, want the newsletter and the broken message", len(inbox))
	}
	for _, m := range inbox {
		failed := hasFlag(m.Flags, "$MailtaskFailed")
		if m.UID == bad && !failed || m.UID != bad && failed {
			t.Errorf("message %d flags %v", m.UID, m.Flags)
		}
		if m.UID == good {
			t.Errorf("the taken message %d is still in the inbox", good)
		}
	}
}

func TestAfterFailureMove(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{Mailboxes: []string{"Failed"}}, `after_failure = "move"`, `failure_move_to = "Failed"`)
	f.appendUIDs(mail{files: []testmail.Attachment{pdfFile("a.pdf")}}.raw(), []byte("\x00\x01 not mail"))
	if sum := f.mustRun(); sum.Failed != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if n, failed := len(f.srv.Messages("INBOX")), len(f.srv.Messages("Failed")); n != 1 || failed != 1 {
		t.Errorf("inbox %d, Failed %d; want 1 and 1", n, failed)
	}
}

// A keyword the folder cannot keep is refused before anything is taken.
func TestKeywordRefusedWithoutPermanentKeywords(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, `after = "keyword"`, `keyword = "$Processed"`)
	f.srv.SetPermanentFlags([]imap.Flag{imap.FlagSeen, imap.FlagFlagged, imap.FlagDeleted})
	f.append(mail{files: []testmail.Attachment{pdfFile("a.pdf")}}.raw())
	_, err := f.run()
	if err == nil || !strings.Contains(err.Error(), "custom keywords") {
		t.Fatalf("run error %v, want the keyword refused", err)
	}
	if len(f.files()) != 0 {
		t.Error("files were written")
	}
	st, _ := state.Load(f.cfg.StateDir, "t")
	if st.Done.Len() != 0 {
		t.Errorf("done %s", st.Done.String())
	}
}

// Without UIDPLUS but with MOVE, deleting moves to the Trash folder
// rather than expunging other clients' \Deleted messages.
func TestDeleteMovesToTrashWithoutUIDPlus(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{NoUIDPlus: true, KeepMove: true, Mailboxes: []string{"Trash"}}, `after = "delete"`)
	f.append(mail{files: []testmail.Attachment{pdfFile("a.pdf")}}.raw())
	// Another client's message, marked \Deleted but not expunged.
	other, err := f.srv.Append("INBOX", mail{subject: "not ours"}.raw(), imap.FlagDeleted)
	mustT(t, err)
	f.cfg.Tasks[0].Match.Subject = []string{"Invoice*"}
	f.mustRun()
	inbox := f.srv.Messages("INBOX")
	if len(inbox) != 1 || inbox[0].UID != other {
		t.Errorf("inbox %+v, want only the other client's message", inbox)
	}
	if n := len(f.srv.Messages("Trash")); n != 1 {
		t.Errorf("Trash holds %d, want the deleted message", n)
	}
}

// hasFlag compares as IMAP does: keywords ignore case.
func hasFlag(flags []imap.Flag, want imap.Flag) bool {
	return slices.ContainsFunc(flags, func(f imap.Flag) bool { return strings.EqualFold(string(f), string(want)) })
}
