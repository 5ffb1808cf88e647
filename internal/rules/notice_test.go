package rules

import (
	"testing"

	"mailtask/internal/extract"
	"mailtask/internal/testmail"
)

// Microsoft's notice is told by its sender or its subject; its
// look-alikes are not notices.
func TestQuarantineNotice(t *testing.T) {
	const subject = "Subject: Microsoft 365 security: You have messages in quarantine"
	for _, c := range []struct {
		name   string
		header []string
		want   bool
	}{
		{"microsoft's sender", []string{"From: Microsoft 365 security <quarantine@messaging.microsoft.com>", subject}, true},
		{"its sender in capitals, an older subject", []string{"From: QUARANTINE@Messaging.Microsoft.com", "Subject: Spam Notification: 2 New Messages"}, true},
		{"a sender the admin set", []string{"From: IT <q2q@contoso.example>", subject}, true},
		{"the subject in lower case", []string{"From: IT <q2q@contoso.example>", "Subject:  microsoft 365 security: you have messages in quarantine"}, true},
		{"a person forwarding one", []string{"From: Anna <anna@contoso.example>", "Subject: FW: Microsoft 365 security: You have messages in quarantine"}, false},
		{"a person replying to one", []string{"From: Anna <anna@contoso.example>", "Subject: RE: Microsoft 365 security: You have messages in quarantine"}, false},
		{"another messaging.microsoft.com sender", []string{"From: noreply@messaging.microsoft.com", "Subject: Your weekly report"}, false},
		{"the address as a display name", []string{`From: "quarantine@messaging.microsoft.com" <billing@evil.example>`, "Subject: Invoice"}, false},
		{"a longer domain", []string{"From: quarantine@messaging.microsoft.com.evil.example", "Subject: Invoice"}, false},
		{"an invoice", nil, false},
	} {
		m := message(t, "x", c.header...)
		if got := QuarantineNotice(m.From, m.Subject); got != c.want {
			t.Errorf("%s: QuarantineNotice(%q, %q) = %v, want %v", c.name, m.From, m.Subject, got, c.want)
		}
	}
}

// The count is read from the sentence that says it, else not guessed.
func TestNoticeHeld(t *testing.T) {
	for _, c := range []struct {
		text, html string
		want       int
		ok         bool
	}{
		{"Review These Messages\n\n3 messages are being held for you to review as of ...", "", 3, true},
		{"1 messages are being held for you to review", "", 1, true},
		{"1 message is being held for you to review", "", 1, true},
		{"", "<p>12 messages are being held for you to review</p>", 12, true},
		{"no count here", "<p>5 messages are being held</p>", 5, true},
		{"", "<p><b>2</b> messages are being held</p>", 0, false},
		{"Des messages sont en attente", "", 0, false},
		{"0 messages are being held", "", 0, false},
		{"99999999999999999999999 messages are being held", "", 0, false},
	} {
		if n, ok := NoticeHeld(c.text, c.html); n != c.want || ok != c.ok {
			t.Errorf("NoticeHeld(%q, %q) = %d, %v; want %d, %v", c.text, c.html, n, ok, c.want, c.ok)
		}
	}
}

// The corpus's notices are told apart from the person's forward, and
// their counts read as the fixtures say.
func TestQuarantineNoticeFixtures(t *testing.T) {
	seen := 0
	for _, fx := range testmail.FidelityCorpus() {
		m, err := extract.ParseBytes(fx.Raw)
		if err != nil {
			t.Fatalf("%s: %v", fx.Name, err)
		}
		if got := QuarantineNotice(m.From, m.Subject); got != fx.QuarantineNotice {
			t.Errorf("%s: QuarantineNotice = %v", fx.Name, got)
		}
		if !fx.QuarantineNotice {
			continue
		}
		seen++
		if n, _ := NoticeHeld(m.Text, m.HTML); n != fx.QuarantineHeld {
			t.Errorf("%s: NoticeHeld = %d, want %d", fx.Name, n, fx.QuarantineHeld)
		}
	}
	if seen == 0 {
		t.Error("the corpus holds no quarantine notice")
	}
}

// Any other mail costs the check no allocation: it runs on every message.
func TestQuarantineNoticeAllocatesNothing(t *testing.T) {
	m := message(t, "x", "Subject: Invoice 4711 for March")
	if n := testing.AllocsPerRun(100, func() { QuarantineNotice(m.From, m.Subject) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
