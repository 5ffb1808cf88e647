package testmail

import (
	"math/rand/v2"
	"mime"
	"net/mail"
	"strings"
	"time"

	"mailtask/internal/mailgen"
)

// automaticShapes adds to the fidelity corpus the automatic mail an
// ingestion mailbox receives in answer to mail its own side sent, as each
// sender puts it on the wire (Fixture.Automatic names its kind), and the
// real mail that looks like it and must still be taken: an ERP system's
// invoice marked auto-generated, a billing platform's with Precedence:
// bulk, a person's "Out of office" subject, a bounce a person forwards.
// The reports carry back the company's own outgoing invoice,
// invoice-4711.pdf, which a task taking them would file as if it had come
// in.
func automaticShapes(fx *[]Fixture, r *rand.Rand) {
	pdf := func(title string) []byte { return mailgen.PDF(r, title, 2000+r.IntN(2000)) }
	field := func(kv ...string) mailgen.Header {
		var h mailgen.Header
		for i := 0; i < len(kv); i += 2 {
			h = append(h, mailgen.Field{Key: kv[i], Value: kv[i+1]})
		}
		return h
	}
	invoice := func(name, title string) mailgen.Entity {
		return mailgen.AttachmentPart(Attachment{Name: name, ContentType: "application/pdf", Content: pdf(title)}, mailgen.NamePlain)
	}
	// The invoice Contoso sent, as its mailer wrote it.
	sent := mailgen.Envelope{
		From: mail.Address{Name: "Contoso Billing", Address: "invoices@contoso.example"}, To: mail.Address{Address: "ap@fabrikam.example"},
		Subject: "Invoice 4711", Date: time.Date(2026, 1, 6, 9, 0, 0, 0, time.UTC), ID: "invoice-4711@contoso.example",
	}.Message(mailgen.Multipart("mixed", mailgen.TextPart("Please find invoice 4711 attached.\n"), invoice("invoice-4711.pdf", "Invoice 4711")))
	sentHeader, _, _ := strings.Cut(string(sent), "\r\n\r\n")
	date := func() string {
		return time.Date(2026, 1, 6, 9, 14, 0, 0, time.UTC).Add(time.Duration(len(*fx)) * time.Minute).Format(time.RFC1123Z)
	}
	add := func(name, kind string, header mailgen.Header, body mailgen.Entity, files ...string) {
		h := append(header[:len(header):len(header)], body.Header...)
		*fx = append(*fx, Fixture{Name: name, Raw: mailgen.Entity{Header: h, Body: body.Body}.Bytes(), Files: files, Automatic: kind})
	}
	// report is a multipart/report whose top-level Content-Type is ctype,
	// "%s" standing for the boundary, folded as its sender folds it.
	report := func(ctype string, parts ...mailgen.Entity) mailgen.Entity {
		e := mailgen.Multipart("report", parts...)
		_, b, _ := strings.Cut(e.Header[0].Value, `boundary="`)
		e.Header[0].Value = strings.Replace(ctype, "%s", strings.TrimSuffix(b, `"`), 1)
		return e
	}
	status := func(perMessage, perRecipient string) mailgen.Entity {
		return mailgen.Entity{Header: field("Content-Type", "message/delivery-status"), Body: mailgen.CRLF(perMessage + "\n\n" + perRecipient + "\n")}
	}
	// then is e with more header fields after its own, as a sender
	// writes them after its Content-Type.
	then := func(e mailgen.Entity, kv ...string) mailgen.Entity {
		return mailgen.Entity{Header: append(e.Header[:len(e.Header):len(e.Header)], field(kv...)...), Body: e.Body}
	}
	original := mailgen.Entity{Header: field("Content-Type", "message/rfc822"), Body: sent}
	headersOnly := mailgen.Entity{Header: field("Content-Type", "text/rfc822-headers"), Body: []byte(sentHeader + "\r\n")}

	// Exchange Online's non-delivery report, its fields in the order of
	// one sisimai's set-of-emails keeps (email-office365-09): from the
	// tenant's postmaster as "Microsoft Outlook", marked
	// X-MS-Exchange-Message-Is-Ndr (empty), the original attached whole.
	add("exchange-online-ndr", "delivery-report", field(
		"From", "Microsoft Outlook <postmaster@contoso.example>",
		"To", "<invoices@contoso.example>",
		"Date", date(),
	), then(report("multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"",
		exchangeAlternative(mailgen.Multipart("alternative",
			mailgen.TextPart("Your message to ap@fabrikam.example couldn't be delivered.\n\nap wasn't found at fabrikam.example.\n"),
			mailgen.HTMLPart("<p>Your message to ap@fabrikam.example couldn't be delivered.</p>"))),
		status("Reporting-MTA: dns;AM0PR02MB5412.eurprd02.prod.outlook.com\nReceived-From-MTA: dns;contoso.example\nArrival-Date: Tue, 6 Jan 2026 09:00:02 +0000",
			"Final-Recipient: rfc822;ap@fabrikam.example\nAction: failed\nStatus: 5.1.10\nDiagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"),
		original),
		"X-MS-Exchange-Message-Is-Ndr", "",
		"Content-Language", "en-US",
		"Message-ID", "<0b8e1c52-5d0a-4a8e-9c1f-7e7f4a3b2c10@AM0PR02MB5412.eurprd02.prod.outlook.com>",
		"In-Reply-To", "<invoice-4711@contoso.example>",
		"References", "<invoice-4711@contoso.example>",
		"Thread-Topic", "Invoice 4711",
		"Thread-Index", "AQHcfvN0kO2bC7xT3UaKq1d8a6w9Rg==",
		"Subject", "Undeliverable: Invoice 4711",
		"Auto-Submitted", "auto-replied",
		"X-MS-PublicTrafficType", "Email",
		"MIME-Version", "1.0"), "invoice-4711.pdf")
	ndr := (*fx)[len(*fx)-1].Raw

	// Gmail's: from mailer-daemon@googlemail.com, Auto-Submitted:
	// auto-replied and X-Failed-Recipients, the original attached.
	add("gmail-delivery-failure", "delivery-report", field(
		"From", "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
		"To", "invoices@contoso.example",
		"Auto-Submitted", "auto-replied",
		"Message-ID", "<6790e4c2.050a0220.2b4c1d.0000.GMR@mx.google.com>",
		"Date", date(),
		"Subject", "Delivery Status Notification (Failure)",
		"References", "<invoice-4711@contoso.example>",
		"In-Reply-To", "<invoice-4711@contoso.example>",
		"X-Failed-Recipients", "ap@fabrikam.example",
		"MIME-Version", "1.0",
	), report("multipart/report; boundary=\"%s\"; report-type=delivery-status",
		mailgen.TextPart("** Address not found **\n\nYour message wasn't delivered to ap@fabrikam.example because the address couldn't be found.\n"),
		status("Reporting-MTA: dns; googlemail.com\nArrival-Date: Tue, 06 Jan 2026 01:00:03 -0800 (PST)",
			"Final-Recipient: rfc822; ap@fabrikam.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 The email account that you tried to reach does not exist."),
		original), "invoice-4711.pdf")

	// Postfix's delay notice: MAILER-DAEMON, the headers only.
	add("postfix-delayed", "delivery-report", field(
		"From", "MAILER-DAEMON@mx.contoso.example (Mail Delivery System)",
		"Subject", "Delayed Mail (still being retried)",
		"To", "invoices@contoso.example",
		"Auto-Submitted", "auto-replied",
		"MIME-Version", "1.0",
	), then(report("multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"",
		mailgen.TextPart("This is the mail system at host mx.contoso.example.\n\n####################################################################\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n####################################################################\n"),
		status("Reporting-MTA: dns; mx.contoso.example\nX-Postfix-Queue-ID: 4F2B51C3A1\nArrival-Date: Tue,  6 Jan 2026 09:00:02 +0000 (UTC)",
			"Final-Recipient: rfc822; ap@fabrikam.example\nOriginal-Recipient: rfc822;ap@fabrikam.example\nAction: delayed\nStatus: 4.4.1\nWill-Retry-Until: Tue, 11 Jan 2026 09:00:02 +0000 (UTC)"),
		headersOnly),
		"Content-Transfer-Encoding", "8bit",
		"Message-Id", "<20260106131402.7A1B2C3D4E@mx.contoso.example>",
		"Date", date()))

	// Sendmail's: the report type says it; its Auto-Submitted says
	// auto-generated, with the reason as a comment.
	add("sendmail-returned-mail", "delivery-report", field(
		"Date", date(),
		"From", "Mail Delivery Subsystem <MAILER-DAEMON@mx.fabrikam.example>",
		"Message-Id", "<202601060914.506E9Ea3012345@mx.fabrikam.example>",
		"To", "<invoices@contoso.example>",
		"MIME-Version", "1.0",
	), then(report("multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"",
		mailgen.TextPart("The original message was received at Tue, 6 Jan 2026 09:00:02 GMT\n\n   ----- The following addresses had permanent fatal errors -----\n<ap@fabrikam.example>\n"),
		status("Reporting-MTA: dns; mx.fabrikam.example\nArrival-Date: Tue, 6 Jan 2026 09:00:02 GMT",
			"Final-Recipient: RFC822; ap@fabrikam.example\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: SMTP; 550 5.1.1 <ap@fabrikam.example>... User unknown"),
		original),
		"Subject", "Returned mail: see transcript for details",
		"Auto-Submitted", "auto-generated (failure)"), "invoice-4711.pdf")

	// Exim's plain-text bounce, older than RFC 3464: X-Failed-Recipients
	// says it, and Auto-Submitted: auto-replied must not make it a reply.
	add("exim-plain-bounce", "delivery-report", field(
		"X-Failed-Recipients", "ap@fabrikam.example",
		"Auto-Submitted", "auto-replied",
		"From", "Mail Delivery System <Mailer-Daemon@mail.fabrikam.example>",
		"To", "invoices@contoso.example",
		"Subject", "Mail delivery failed: returning message to sender",
		"Message-Id", "<E1vdJ4K-0003xY-2P@mail.fabrikam.example>",
		"Date", date(),
	), mailgen.Entity{Body: mailgen.CRLF("This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n  ap@fabrikam.example\n    Unrouteable address\n\n------ This is a copy of the message's headers. ------\n\n" +
		strings.ReplaceAll(sentHeader, "\r\n", "\n") + "\n")})

	// qmail's: no header of automatic mail at all, only its sender.
	add("qmail-failure-notice", "delivery-report", field(
		"Date", date(),
		"From", "MAILER-DAEMON@mx.fabrikam.example",
		"To", "invoices@contoso.example",
		"Subject", "failure notice",
	), mailgen.Entity{Body: mailgen.CRLF("Hi. This is the qmail-send program at mx.fabrikam.example.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n<ap@fabrikam.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n")})

	// Exchange's out-of-office reply, its fields in the order and the
	// case Exchange writes them (the Mailbox Rules Agent sends it, in
	// lower case): Auto-Submitted says only auto-generated, as an ERP
	// system's invoice does; the subject's prefix tells it apart.
	oof := func(name, subject, text string, extra ...string) {
		add(name, "auto-reply", append(field(
			"From", "Anna Berger <anna.berger@fabrikam.example>",
			"To", "Contoso Billing <invoices@contoso.example>",
			"Subject", subject,
			"Thread-Topic", "Invoice 4711",
			"Thread-Index", "AQHcfvN0kO2bC7xT3UaKq1d8a6w9Rg==",
			"Date", date(),
			"Message-ID", "<AM0PR02MB5412B7C0E2F1A3D4E5F6A7B8C9@AM0PR02MB5412.eurprd02.prod.outlook.com>",
			"X-MS-Has-Attach", ""), field(extra...)...),
			then(mailgen.Multipart("alternative", mailgen.TextPart(text), mailgen.HTMLPart("<p>"+text+"</p>")), "MIME-Version", "1.0"))
	}
	oof("exchange-automatic-reply", "Automatic reply: Invoice 4711", "I am out of the office until 12 January with no access to email.\n",
		"X-Auto-Response-Suppress", "All",
		"X-MS-Exchange-Inbox-Rules-Loop", "anna.berger@fabrikam.example",
		"X-MS-TNEF-Correlator", "",
		"x-ms-exchange-transport-fromentityheader", "Hosted",
		"x-ms-exchange-parent-message-id", "<invoice-4711@contoso.example>",
		"auto-submitted", "auto-generated",
		"x-ms-exchange-generated-message-source", "Mailbox Rules Agent")
	// An older Exchange's, in German: no Auto-Submitted at all.
	oof("exchange-automatische-antwort", "Automatische Antwort: Rechnung 4711", "Ich bin bis 12. Januar nicht im Büro.\n",
		"X-Auto-Response-Suppress", "All",
		"X-MS-TNEF-Correlator", "")

	// Sieve vacation, as Dovecot Pigeonhole's act_vacation_send writes it
	// (field for field, in its order): Auto-Submitted: auto-replied with
	// its reason as a comment, the subject whatever the user chose.
	add("sieve-vacation", "auto-reply", field(
		"X-Sieve", "Pigeonhole Sieve 0.5.21 (f6b69349)",
		"Message-ID", "<dovecot-sieve-1767690840-123456-0@mail.fabrikam.example>",
		"Date", date(),
		"From", "<anna.berger@fabrikam.example>",
		"To", "<invoices@contoso.example>",
		"Subject", "Away until 12 January",
		"In-Reply-To", "<invoice-4711@contoso.example>",
		"References", "<invoice-4711@contoso.example>",
		"Auto-Submitted", "auto-replied (vacation)",
		"Precedence", "bulk",
		"X-Auto-Response-Suppress", "All",
		"MIME-Version", "1.0",
		"Content-Type", "text/plain; charset=utf-8",
		"Content-Transfer-Encoding", "8bit",
	), mailgen.Entity{Body: mailgen.CRLF("I am away until 12 January.\n")})
	// Autoresponders that predate RFC 3834 name themselves.
	add("x-autorespond", "auto-reply", field(
		"From", "sales@fabrikam.example",
		"To", "invoices@contoso.example",
		"Subject", "Thank you for your message",
		"Date", date(),
		"Message-Id", "<autorespond-4711@fabrikam.example>",
		"X-Autorespond", "Thank you for your message",
		"Precedence", "auto_reply",
		"MIME-Version", "1.0",
	), mailgen.TextPart("We received your message and will answer within two working days.\n"))

	// Read receipts (RFC 8098): Thunderbird's, whose named inline parts
	// would land in the destination as MDNPart2.txt and MDNPart3.txt, and
	// Outlook's.
	add("mdn-displayed", "read-receipt", field(
		"Message-ID", "<b7c1d2e3-mdn@fabrikam.example>",
		"Date", date(),
		"MIME-Version", "1.0",
		"From", "Anna Berger <anna.berger@fabrikam.example>",
		"To", "invoices@contoso.example",
		"Subject", "Return Receipt (displayed) - Invoice 4711",
	), report("multipart/report; report-type=disposition-notification;\r\n boundary=\"%s\"",
		mailgen.TextPart("This is a Return Receipt for the mail that you sent to anna.berger@fabrikam.example.\n"),
		mailgen.Entity{Header: field("Content-Type", "message/disposition-notification; name=\"MDNPart2.txt\"", "Content-Disposition", "inline"),
			Body: mailgen.CRLF("Reporting-UA: fabrikam.example; Thunderbird 128.6.0\nFinal-Recipient: rfc822;anna.berger@fabrikam.example\nOriginal-Message-ID: <invoice-4711@contoso.example>\nDisposition: manual-action/MDN-sent-manually; displayed\n")},
		mailgen.Entity{Header: field("Content-Type", "text/rfc822-headers; name=\"MDNPart3.txt\"", "Content-Disposition", "inline"), Body: []byte(sentHeader + "\r\n")}), "MDNPart2.txt", "MDNPart3.txt")
	add("outlook-read", "read-receipt", field(
		"From", "Anna Berger <anna.berger@fabrikam.example>",
		"To", "Contoso Billing <invoices@contoso.example>",
		"Subject", "Read: Invoice 4711",
		"Date", date(),
		"Message-ID", "<AM0PR02MB5412C8D9@AM0PR02MB5412.eurprd02.prod.outlook.com>",
		"Content-Language", "en-US",
		"MIME-Version", "1.0",
	), report("multipart/report;\r\n\treport-type=disposition-notification;\r\n\tboundary=\"%s\"",
		mailgen.TextPart("Your message\n\n  To: Anna Berger\n  Subject: Invoice 4711\n\nwas read on Tuesday, 6 January 2026 10:02:11 (UTC).\n"),
		mailgen.Entity{Header: field("Content-Type", "message/disposition-notification"),
			Body: mailgen.CRLF("Final-Recipient: RFC822; anna.berger@fabrikam.example\nDisposition: automatic-action/MDN-sent-automatically; displayed\nX-MSExch-Correlation-Key: 0Qc8vJ0kN0m2a0e3p1sQ6A==\nOriginal-Message-ID: <invoice-4711@contoso.example>\n")}))

	// The senders below draw their bytes from a stream of their own, so
	// that the fixtures after these keep theirs.
	own := rand.New(rand.NewPCG(4711, 2))
	encoded := func(s string) string { return mime.BEncoding.Encode("utf-8", s) }

	// HCL (Lotus) Domino's: from Postmaster, not MAILER-DAEMON, with no
	// Auto-Submitted; the report type alone says it (the shape Drupal
	// inmail's Domino test message has, X-Notes diagnostic as sisimai
	// reads it).
	add("domino-delivery-failure", "delivery-report", field(
		"To", "invoices@contoso.example",
		"From", "Postmaster@mail.fabrikam.example",
		"Date", date(),
		"Message-ID", "<21386_1767690840_530473CD_21386_78_1_OF72A6C464.8DF6E397-ONC1257C84.0031EBBB-C1257C84.0031EC2C@mail.fabrikam.example>",
		"Subject", "DELIVERY FAILURE: User ap (ap@fabrikam.example) not listed in Domino\r\n Directory",
		"MIME-Version", "1.0",
	), report("multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"",
		mailgen.TextPart("Your message\n\n  Subject: Invoice 4711\n\nwas not delivered to:\n\n  ap@fabrikam.example\n\nbecause:\n\n  User ap (ap@fabrikam.example) not listed in Domino Directory\n"),
		status("Reporting-MTA: dns;mail.fabrikam.example\nArrival-Date: Tue, 6 Jan 2026 10:00:02 +0100",
			"Final-Recipient: rfc822;ap@fabrikam.example\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: X-Notes; User ap (ap@fabrikam.example) not listed in Domino Directory"),
		original), "invoice-4711.pdf")

	// Google Workspace's "Delivery Status Notification (Failure)" in the
	// shape sisimai keeps (lhost-googleworkspace-01): Content-Type first,
	// the explanation in a multipart/related whose error icon is marked
	// attachment (a task taking it would file icon.png), the original
	// truncated to its header.
	sentBoundary := sentHeader[strings.Index(sentHeader, `boundary="`)+len(`boundary="`):]
	sentBoundary = sentBoundary[:strings.IndexByte(sentBoundary, '"')]
	add("google-workspace-dsn", "delivery-report", nil, then(report("multipart/report; boundary=\"%s\"; report-type=delivery-status",
		mailgen.Multipart("related",
			mailgen.Multipart("alternative",
				mailgen.TextPart("** Message not delivered **\n\nYou're sending this from a different address or alias using the 'Send mail as' feature.\n"),
				mailgen.HTMLPart(`<img width=72 height=72 alt="Error Icon" src="cid:icon.png"><h2>Message not delivered</h2>`)),
			mailgen.Entity{Header: field("Content-Type", `image/png; name="icon.png"`, "Content-Disposition", `attachment; filename="icon.png"`,
				"Content-Transfer-Encoding", "base64", "Content-ID", "<icon.png>"), Body: mailgen.Base64Lines(mailgen.PNG(own, 700))}),
		status("Reporting-MTA: dns; googlemail.com\nArrival-Date: Tue, 06 Jan 2026 01:00:03 -0800 (PST)",
			"Final-Recipient: rfc822; ap@fabrikam.example\nAction: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; Unspecified Error (SENT_SECOND_EHLO): Smtp server does not advertise AUTH capability"),
		mailgen.Entity{Header: field("Content-Type", "message/rfc822"),
			Body: []byte(sentHeader + "\r\n\r\n--" + sentBoundary + "\r\n----- Message truncated -----\r\n--" + sentBoundary + "--\r\n")}),
		"To", "invoices@contoso.example",
		"Return-Path", "<>",
		"Auto-Submitted", "auto-replied",
		"Message-ID", "<63fc15e0.050a0220.58de0.183e.GMR@mx.google.com>",
		"Date", date(),
		"From", "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
		"Subject", "Delivery Status Notification (Failure)",
		"X-Failed-Recipients", "ap@fabrikam.example"), "icon.png")

	// Gmail's vacation responder: Auto-Submitted: auto-replied with
	// X-Autoreply and Precedence: bulk (as Zammad's tests keep its
	// header), the subject whatever the user typed.
	add("gmail-vacation", "auto-reply", field(
		"MIME-Version", "1.0",
		"References", "<invoice-4711@contoso.example>",
		"In-Reply-To", "<invoice-4711@contoso.example>",
		"Precedence", "bulk",
		"X-Autoreply", "yes",
		"Auto-Submitted", "auto-replied",
		"Date", date(),
		"Message-ID", "<CAF8kR2tq0vacation4711@mail.gmail.com>",
		"Subject", "Vacation: back on 12 January",
		"From", "Anna Berger <anna.berger.fabrikam@gmail.com>",
		"To", "invoices@contoso.example",
	), mailgen.Multipart("alternative", mailgen.TextPart("I am on vacation until 12 January.\n"), mailgen.HTMLPart("<div>I am on vacation until 12 January.</div>")))

	// iCloud Mail's vacation reply says only X-Apple-Action: VACATION (no
	// Auto-Submitted), as sisimai reads it and an ingestion tool found
	// on a live one.
	add("icloud-vacation", "auto-reply", field(
		"From", "Anna Berger <anna.berger@icloud.com>",
		"To", "invoices@contoso.example",
		"Subject", "Re: Invoice 4711",
		"Date", date(),
		"Message-Id", "<A1B2C3D4-vacation-4711@icloud.com>",
		"In-Reply-To", "<invoice-4711@contoso.example>",
		"X-Apple-Action", "VACATION",
		"MIME-Version", "1.0",
		"Content-Type", "text/plain; charset=utf-8",
		"Content-Transfer-Encoding", "7bit",
	), mailgen.Entity{Body: mailgen.CRLF("I am away until 12 January.\n")})

	// Zimbra's out-of-office reply and read receipt, their fields as
	// Zimbra's Notification and SendDeliveryReport set them on a JavaMail
	// message: Auto-Submitted: auto-replied with Zimbra's comment,
	// Precedence: bulk; the receipt a multipart/report, which wins.
	add("zimbra-vacation", "auto-reply", field(
		"Date", date(),
		"From", "Anna Berger <anna.berger@fabrikam.example>",
		"To", "invoices@contoso.example",
		"Message-ID", "<1767690840123.4711.JavaMail.zimbra@mail.fabrikam.example>",
		"In-Reply-To", "<invoice-4711@contoso.example>",
		"Subject", "Re: Invoice 4711",
		"MIME-Version", "1.0",
		"Content-Type", "text/plain; charset=utf-8",
		"Content-Transfer-Encoding", "7bit",
		"Auto-Submitted", "auto-replied (zimbra; vacation)",
		"Precedence", "bulk",
	), mailgen.Entity{Body: mailgen.CRLF("I am out of the office until 12 January.\n")})
	add("zimbra-read-receipt", "read-receipt", field(
		"Date", date(),
		"From", "Anna Berger <anna.berger@fabrikam.example>",
		"To", "invoices@contoso.example",
		"Message-ID", "<1767690900456.4712.JavaMail.zimbra@mail.fabrikam.example>",
		"Subject", "Read-Receipt: Invoice 4711",
		"MIME-Version", "1.0",
		"Auto-Submitted", "auto-replied (zimbra; read-receipt)",
		"Precedence", "bulk",
	), report("multipart/report; \r\n\tboundary=\"%s\"; report-type=disposition-notification",
		mailgen.TextPart("Your message \"Invoice 4711\" sent on 1/6/26 9:00 AM was read by anna.berger@fabrikam.example.\n"),
		mailgen.Entity{Header: field("Content-Type", "message/disposition-notification; charset=utf-8", "Content-Transfer-Encoding", "7bit"),
			Body: mailgen.CRLF("Reporting-UA: 192.0.2.7; ZimbraWebClient\nOriginal-Recipient: rfc822;anna.berger@fabrikam.example\nFinal-Recipient: rfc822;anna.berger@fabrikam.example\nOriginal-Message-ID: <invoice-4711@contoso.example>\nDisposition: manual-action/MDN-sent-manually; displayed\n")}))

	// Outlook's out-of-office replies in Japanese and Russian: the same
	// weak header as in English, the prefix in the user's language,
	// the subject in encoded words.
	oof("exchange-automatic-reply-ja", encoded("自動応答: 請求書 4711"), "1月12日まで不在にしております。\n",
		"X-Auto-Response-Suppress", "All",
		"X-MS-Exchange-Inbox-Rules-Loop", "anna.berger@fabrikam.example",
		"auto-submitted", "auto-generated")
	oof("exchange-automatic-reply-ru", encoded("Автоматический ответ: Счёт 4711"), "Я в отпуске до 12 января.\n",
		"X-Auto-Response-Suppress", "All",
		"auto-submitted", "auto-generated")

	// ERP systems whose subjects start like those: "automatic sending"
	// and "automatic mailing", not Outlook's prefix. Taken.
	for _, erp := range []struct{ name, subject, file string }{
		{"erp-invoice-japanese-subject", "自動送信: 請求書 2026-01", "seikyusho-2026-01.pdf"},
		{"erp-invoice-russian-subject", "Автоматическая рассылка: счёт 4711", "schet-4711.pdf"},
	} {
		add(erp.name, "", field(
			"Date", date(),
			"From", "Billing <billing@fabrikam.example>",
			"To", "invoices@contoso.example",
			"Subject", encoded(erp.subject),
			"Message-ID", "<"+erp.name+"@fabrikam.example>",
			"Auto-Submitted", "auto-generated",
			"X-Auto-Response-Suppress", "All",
			"MIME-Version", "1.0",
		), mailgen.Multipart("mixed", mailgen.TextPart("Invoice attached.\n"),
			mailgen.AttachmentPart(Attachment{Name: erp.file, ContentType: "application/pdf", Content: mailgen.PDF(own, erp.file, 2500)}, mailgen.NamePlain)), erp.file)
	}

	// Real mail that looks automatic, and is taken. An ERP system's
	// invoice: auto-generated, and asking for no out-of-office replies.
	add("erp-invoice-auto-generated", "", field(
		"Date", date(),
		"From", "SAP Billing <billing@fabrikam.example>",
		"To", "invoices@contoso.example",
		"Subject", "Invoice 90017 from Fabrikam",
		"Message-ID", "<erp-90017@fabrikam.example>",
		"Auto-Submitted", "auto-generated",
		"X-Auto-Response-Suppress", "All",
		"MIME-Version", "1.0",
	), mailgen.Multipart("mixed", mailgen.TextPart("Please find invoice 90017 attached.\n"), invoice("Invoice_90017.pdf", "Invoice 90017")), "Invoice_90017.pdf")
	// A billing platform's: Precedence: bulk, a List-Unsubscribe.
	add("billing-platform-bulk", "", field(
		"Date", date(),
		"From", "Fabrikam Cloud <billing@mail.fabrikam-cloud.example>",
		"To", "invoices@contoso.example",
		"Subject", "Your invoice for January is available",
		"Message-ID", "<0100019b8e-billing@mail.fabrikam-cloud.example>",
		"Precedence", "bulk",
		"List-Unsubscribe", "<https://fabrikam-cloud.example/unsubscribe/4711>",
		"X-Autoreply", "no",
		"MIME-Version", "1.0",
	), mailgen.Multipart("mixed", mailgen.TextPart("Your invoice is attached.\n"), invoice("FC-2026-01.pdf", "FC 2026-01")), "FC-2026-01.pdf")
	// A person whose subject starts like an automatic reply.
	add("person-out-of-office-subject", "", field(
		"Date", date(),
		"From", "Anna Berger <anna.berger@fabrikam.example>",
		"To", "invoices@contoso.example",
		"Subject", "Out of office expenses for December",
		"Message-ID", "<person-4711@fabrikam.example>",
		"MIME-Version", "1.0",
	), mailgen.Multipart("mixed", mailgen.TextPart("Here are my expenses.\n"), invoice("expenses-december.pdf", "Expenses")), "expenses-december.pdf")
	// A bounce a person forwards, attached: a message of their own.
	add("person-forwards-bounce", "", field(
		"Date", date(),
		"From", "Anna Berger <anna.berger@fabrikam.example>",
		"To", "invoices@contoso.example",
		"Subject", "Fwd: Undeliverable: Invoice 4711",
		"Message-ID", "<person-fwd-4711@fabrikam.example>",
		"MIME-Version", "1.0",
	), mailgen.Multipart("mixed", mailgen.TextPart("This bounced, please resend.\n"),
		mailgen.Entity{Header: field("Content-Type", "message/rfc822", "Content-Disposition", "attachment"), Body: ndr}), "invoice-4711.pdf")
}

// exchangeAlternative is e, a multipart/alternative, as Exchange labels
// one: differences=Content-Type before the boundary, folded.
func exchangeAlternative(e mailgen.Entity) mailgen.Entity {
	e.Header[0].Value = strings.Replace(e.Header[0].Value, "; boundary=", "; differences=Content-Type;\r\n\tboundary=", 1)
	return e
}
