package testmail

import (
	"mailtask/internal/mailgen"
)

// quarantineNotices adds to the fidelity corpus Microsoft 365's quarantine
// notifications, which an invoice mailbox receives instead of the invoices
// Exchange Online Protection or Defender for Office 365 hold, and a
// person's forward of one, which is not one. Their shape is what
// Microsoft's documentation and the notices people have quoted show: the
// subject "Microsoft 365 security: You have messages in quarantine", from
// quarantine@messaging.microsoft.com unless an admin set a sender of the
// tenant's own, a count ("2 messages are being held for you to review as
// of ... (UTC)"), then per held message its sender, subject and date
// with Release, Review and Block Sender links. None carries a file.
func quarantineNotices(fx *[]Fixture) {
	header := func(kv ...string) mailgen.Header {
		var h mailgen.Header
		for i := 0; i < len(kv); i += 2 {
			h = append(h, mailgen.Field{Key: kv[i], Value: kv[i+1]})
		}
		return h
	}
	add := func(name string, notice bool, held int, h mailgen.Header, body mailgen.Entity) {
		*fx = append(*fx, Fixture{Name: name, Raw: mailgen.Entity{Header: append(h, body.Header...), Body: body.Body}.Bytes(),
			QuarantineNotice: notice, QuarantineHeld: held})
	}
	const text = "Review These Messages\n\n" +
		"2 messages are being held for you to review as of 1/6/2026 9:20:45 AM (UTC).\n\n" +
		"Review them within 30 days of the received date by going to the Quarantine page in the Security Center.\n\n" +
		"Prevented malware messages\n\n" +
		"Sender: billing@fabrikam.example\nSubject: Invoice 90018 from Fabrikam\nDate: 1/6/2026 8:02:11 AM\n" +
		"Release <https://security.microsoft.com/quarantine?id=1> | Review <https://security.microsoft.com/quarantine> | Block Sender\n\n" +
		"Prevented spam messages\n\n" +
		"Sender: accounts@northwind.example\nSubject: Statement of account December\nDate: 1/6/2026 8:41:57 AM\n" +
		"Release <https://security.microsoft.com/quarantine?id=2> | Review <https://security.microsoft.com/quarantine> | Block Sender\n"
	const html = `<h1>Review These Messages</h1>` +
		`<p><b>2</b> messages are being held for you to review as of 1/6/2026 9:20:45 AM (UTC).</p>` +
		`<p>Review them within 30 days of the received date by going to the <a href="https://security.microsoft.com/quarantine">Quarantine page</a> in the Security Center.</p>` +
		`<table><tr><th colspan="3">Prevented malware messages</th></tr>` +
		`<tr><td>Sender:</td><td>billing@fabrikam.example</td><td><a href="https://security.microsoft.com/quarantine?id=1">Release</a></td></tr>` +
		`<tr><td>Subject:</td><td>Invoice 90018 from Fabrikam</td><td><a href="https://security.microsoft.com/quarantine">Review</a></td></tr>` +
		`<tr><td>Date:</td><td>1/6/2026 8:02:11 AM</td><td>Block Sender</td></tr></table>` +
		`<table><tr><th colspan="3">Prevented spam messages</th></tr>` +
		`<tr><td>Sender:</td><td>accounts@northwind.example</td><td><a href="https://security.microsoft.com/quarantine?id=2">Release</a></td></tr>` +
		`<tr><td>Subject:</td><td>Statement of account December</td><td><a href="https://security.microsoft.com/quarantine">Review</a></td></tr>` +
		`<tr><td>Date:</td><td>1/6/2026 8:41:57 AM</td><td>Block Sender</td></tr></table>`
	const subject = "Microsoft 365 security: You have messages in quarantine"

	// Microsoft's own sender; the count in the text body.
	add("m365-quarantine-notice", true, 2, header(
		"From", "Microsoft 365 security <quarantine@messaging.microsoft.com>",
		"To", "invoices@contoso.example",
		"Subject", subject,
		"Date", "Tue, 6 Jan 2026 09:20:45 +0000",
		"Message-ID", "<m365-quarantine-0106@messaging.microsoft.com>",
		"MIME-Version", "1.0",
	), mailgen.Multipart("alternative", mailgen.TextPart(text), mailgen.HTMLPart(html)))
	// A sender the admin set in the global quarantine settings, and only
	// an HTML body, whose count a tag cuts from its sentence: a notice,
	// its count unread.
	add("m365-quarantine-notice-custom-sender", true, 0, header(
		"From", "IT Security <quarantine@contoso.example>",
		"To", "invoices@contoso.example",
		"Subject", subject,
		"Date", "Wed, 7 Jan 2026 09:20:45 +0000",
		"Message-ID", "<m365-quarantine-0107@contoso.example>",
		"MIME-Version", "1.0",
	), mailgen.HTMLPart(html))
	// A person forwarding a notice to the mailbox: theirs, not one.
	add("person-forwards-quarantine-notice", false, 0, header(
		"From", "Anna Berger <anna.berger@contoso.example>",
		"To", "invoices@contoso.example",
		"Subject", "FW: "+subject,
		"Date", "Wed, 7 Jan 2026 10:02:00 +0000",
		"Message-ID", "<person-fw-quarantine@contoso.example>",
		"MIME-Version", "1.0",
	), mailgen.TextPart("Is the Fabrikam invoice among these?\n\n-----Original Message-----\nFrom: quarantine@messaging.microsoft.com\n\n"+text))
}
