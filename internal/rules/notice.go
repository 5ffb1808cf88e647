package rules

import (
	"strconv"
	"strings"

	"mailtask/internal/mailbox"
)

// quarantineSender is the address Exchange Online Protection and
// Microsoft Defender for Office 365 send their quarantine notifications
// (formerly end-user spam notifications) from, unless an admin set
// another in the global quarantine settings.
const quarantineSender = "quarantine@messaging.microsoft.com"

// quarantineSubject is the English subject of a quarantine notification
// today, whichever address sends it: the one sign left when an admin
// has the notices sent from an address of the tenant's own.
const quarantineSubject = "Microsoft 365 security: You have messages in quarantine"

// QuarantineNotice reports whether a message, by its first From address
// and its decoded subject, is Microsoft 365's notice that it holds mail
// for the mailbox in quarantine: mail that never reached the mailbox,
// which a task therefore never sees.
//
// Either sign can be forged, the From address as easily as the subject.
// That is acceptable only because a notice costs nothing but a warning:
// recognising one must never change what a task writes of the message or
// does with it on the server. A notice forwarded by a person ("FW: ...",
// from the person) is not one; nor is other mail from
// messaging.microsoft.com.
func QuarantineNotice(from, subject string) bool {
	return strings.EqualFold(from, quarantineSender) ||
		hasPrefixFold(strings.TrimSpace(subject), quarantineSubject)
}

// NoticeTerms are what an IMAP SEARCH asks of a quarantine notice: its
// sender, or its subject. Any one holding is a necessary condition of
// QuarantineNotice (the subject's prefix as a substring), so the search
// leaves out no notice; what it lets through that is none, a person's
// forward, is told apart on the header.
func NoticeTerms() []mailbox.HeaderTerm {
	return []mailbox.HeaderTerm{
		{Field: "From", AnyOf: []string{quarantineSender}},
		{Field: "Subject", AnyOf: []string{quarantineSubject}},
	}
}

// NoticeHeld is how many held messages a quarantine notice's body says it
// lists ("3 messages are being held for you to review as of ..."), and
// whether it says so in words this reads; text is searched before html.
// The notice's other languages and layouts give false, not a guess.
func NoticeHeld(text, html string) (int, bool) {
	for _, body := range []string{text, html} {
		if n, ok := heldCount(body); ok {
			return n, true
		}
	}
	return 0, false
}

// heldPhrases follow the count in the English notice; "1 messages" is
// what Microsoft writes for one.
var heldPhrases = []string{" messages are being held", " message is being held"}

// heldCount reads the number before the first of heldPhrases in body.
func heldCount(body string) (int, bool) {
	for _, phrase := range heldPhrases {
		i := strings.Index(body, phrase)
		if i < 0 {
			continue
		}
		start := i
		for start > 0 && body[start-1] >= '0' && body[start-1] <= '9' {
			start--
		}
		if n, err := strconv.Atoi(body[start:i]); err == nil && n > 0 {
			return n, true
		}
	}
	return 0, false
}
