package popimap

import (
	"bytes"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/outcome"
	"mailtask/internal/testmail"
)

// automaticMails are, from testmail's fidelity corpus, Exchange Online's
// report that the company's own invoice-4711.pdf bounced, Exchange's
// automatic reply, an ERP system's invoice marked auto-generated and a
// read receipt.
func automaticMails(t *testing.T) [][]byte {
	t.Helper()
	byName := map[string][]byte{}
	for _, fx := range testmail.FidelityCorpus() {
		byName[fx.Name] = fx.Raw
	}
	var raws [][]byte
	for _, name := range []string{"exchange-online-ndr", "exchange-automatic-reply", "erp-invoice-auto-generated", "mdn-displayed"} {
		if byName[name] == nil {
			t.Fatalf("no fixture %s", name)
		}
		raws = append(raws, byName[name])
	}
	return raws
}

// By default a task takes the ERP system's invoice and none of the mail
// sent back to the company: the bounce's invoice is not filed as if it
// had come in. The skipped mail is left on the server (after = "delete"
// notwithstanding), recorded as done, and each is logged at info with the
// header that gave it away; a dry run lists it.
func TestAutomaticMailIsNotTaken(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, `after = "delete"`, "[task.attachments]", `nested = "extract"`)
	f.append(automaticMails(t)...)

	dry, err := Run(t.Context(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	skipped := map[string]string{}
	for _, s := range dry.Skipped {
		skipped[s.Key] = s.Reason
	}
	if len(skipped) != 3 || !strings.Contains(skipped["uid:1"], "delivery report") || !strings.Contains(skipped["uid:1"], "report-type=delivery-status") ||
		!strings.Contains(skipped["uid:2"], "automatic reply") || !strings.Contains(skipped["uid:4"], "read receipt") {
		t.Errorf("dry run would skip %+v; want uid:1 a delivery report, uid:2 an automatic reply, uid:4 a read receipt", dry.Skipped)
	}

	var logs bytes.Buffer
	sum, err := Run(t.Context(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Saved != 1 || sum.Unmatched != 3 {
		t.Errorf("%s; want 1 saved, 3 not matching", sum.Counts.Summary(false))
	}
	if got, want := sum.Automatic(), (outcome.Automatic{"delivery-report": 1, "auto-reply": 1, "read-receipt": 1}); !maps.Equal(got, want) {
		t.Errorf("automatic mail by kind %v, want %v", got, want)
	}
	if got := f.files(); len(got) != 1 || got["Invoice_90017.pdf"] == "" {
		t.Errorf("files %v, want the ERP system's Invoice_90017.pdf alone", sortedKeys(got))
	}
	if left := f.srv.Messages("INBOX"); len(left) != 3 {
		t.Errorf("%d messages left on the server, want the 3 skipped", len(left))
	}
	for _, want := range []string{
		`level=INFO msg="automatic mail not taken (skip_automatic); recorded as done and left on the server" task=t msg=uid:1 kind=delivery-report sign="Content-Type: multipart/report; report-type=delivery-status" from=postmaster@contoso.example subject="Undeliverable: Invoice 4711"`,
		`msg=uid:2 kind=auto-reply sign="Auto-Submitted: auto-generated, subject \"automatic reply:\""`,
		`msg=uid:4 kind=read-receipt`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log lacks %s:\n%s", want, logs.String())
		}
	}
	if sum := f.mustRun(); sum.Seen != 0 {
		t.Errorf("second run: %s; the skipped mail is done", sum.Counts.Summary(false))
	}
}

// skip_automatic = [] takes automatic mail as any other: the bounce gives
// the invoice it carries back.
func TestSkipAutomaticEmptyTakesAll(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, "[task.match]", "skip_automatic = []", "[task.attachments]", `nested = "extract"`)
	f.append(automaticMails(t)...)
	if sum := f.mustRun(); sum.Saved != 4 || sum.Unmatched != 0 {
		t.Errorf("%s; want all 4 saved", sum.Counts.Summary(false))
	}
	if got := f.files(); got["invoice-4711.pdf"] == "" || got["Invoice_90017.pdf"] == "" {
		t.Errorf("files %v, want the bounce's invoice-4711.pdf and Invoice_90017.pdf", sortedKeys(got))
	}
}

// Where the header is read before the download anyway (POP3, a rule on a
// header field), automatic mail is refused there and never retrieved.
func TestAutomaticMailRefusedOnItsHeader(t *testing.T) {
	f := newPOP3Fixture(t, testmail.POP3Options{}, automaticMails(t), "[task.match]", `from = "*@*"`)
	dry, err := Run(t.Context(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], DryRun: true})
	if err != nil || len(dry.Skipped) != 3 {
		t.Errorf("dry run would skip %+v (%v), want 3", dry.Skipped, err)
	}
	sum := f.mustRun()
	if sum.Saved != 1 || sum.Unmatched != 3 || len(sum.Automatic()) != 3 {
		t.Errorf("%s, automatic %v; want 1 saved, 3 not matching of 3 kinds", sum.Counts.Summary(false), sum.Automatic())
	}
	if n := f.pop.Retrieved(); n != 2 {
		t.Errorf("%d messages retrieved by the dry run and the run, want only the ERP system's invoice by each", n)
	}
}

// Skipping automatic mail costs no command: a task that skips it sends
// the server what a task taking everything sends, over IMAP and POP3 (no
// header fetched first); the automatic mail is downloaded and judged
// there.
func TestSkipAutomaticCostsNoCommand(t *testing.T) {
	for _, protocol := range []string{"imap", "pop3"} {
		counts := map[string]map[string]int{}
		for _, match := range []string{"", "skip_automatic = []"} {
			var (
				mu   sync.Mutex
				sent = map[string]int{}
			)
			count := func(cmd string) {
				mu.Lock()
				defer mu.Unlock()
				verb, _, _ := strings.Cut(cmd, " ")
				sent[verb]++
			}
			var f *fixture
			if protocol == "imap" {
				f = newFixture(t, testmail.IMAPOptions{Fault: func(cmd string) error { count(cmd); return nil }}, "[task.match]", match)
				f.append(automaticMails(t)...)
			} else {
				f = newPOP3Fixture(t, testmail.POP3Options{Fault: func(cmd string) string { count(cmd); return "" }}, automaticMails(t), "[task.match]", match)
			}
			f.mustRun()
			counts[match] = sent
		}
		if skip, take := counts[""], counts["skip_automatic = []"]; !maps.Equal(skip, take) || skip["FETCH"]+skip["RETR"] == 0 {
			t.Errorf("%s: skipping sent %v, taking everything %v", protocol, skip, take)
		}
	}
}

// A bounce that carries back a message larger than max_message_size is
// skipped by its header, which the run reads anyway: not kept aside, no
// failure action, nothing for a failure mail. A large message of another
// kind is kept aside as before; a dry run says which is which.
func TestLargeBounceIsSkippedNotKeptAside(t *testing.T) {
	bounce := []byte("From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\nTo: invoices@contoso.example\r\nSubject: Delivery Status Notification (Failure)\r\n" +
		"Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; boundary=\"b\"; report-type=delivery-status\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nAddress not found.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; googlemail.com\r\n\r\nFinal-Recipient: rfc822; ap@fabrikam.example\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\n" + string(large()) + "\r\n--b--\r\n")
	f := newFixture(t, testmail.IMAPOptions{}, `max_message_size = "1MiB"`, `after_failure = "keyword"`)
	f.append(bounce, large())

	dry, err := Run(t.Context(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Skipped) != 1 || dry.Skipped[0].Key != "uid:1" || len(dry.Aside) != 1 || dry.Aside[0].Key != "uid:2" {
		t.Errorf("dry run would skip %+v and keep aside %+v; want uid:1 skipped, uid:2 aside", dry.Skipped, dry.Aside)
	}
	sum := f.mustRun()
	if sum.Unmatched != 1 || sum.Failed != 1 || len(sum.Automatic()) != 1 {
		t.Errorf("%s; want the bounce not matching, the other large message failed", sum.Counts.Summary(false))
	}
	if st := loadState(t, f); len(st.Failed) != 1 || st.Failed[0].Key != "uid:2" || st.Done.Len() != 2 {
		t.Errorf("kept aside %+v, done %s; want uid:2 alone kept aside, both done", st.Failed, st.Done.String())
	}
	for _, m := range f.srv.Messages("INBOX") {
		if flagged := hasFlag(m.Flags, config.DefaultFailureKeyword); flagged != (m.UID == 2) {
			t.Errorf("message %d: failure keyword %v", m.UID, flagged)
		}
	}
	if n := len(f.srv.FetchedUIDs()); n != 0 {
		t.Errorf("%d messages downloaded, want none", n)
	}
}
