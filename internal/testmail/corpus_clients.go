package testmail

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/binary"
	"math/rand/v2"

	"mailtask/internal/mailgen"
)

// smimeEnveloped is an encrypted S/MIME message and pgpEncrypted the
// encrypted data of a PGP/MIME one, both made with the real tools (see
// testdata/encrypted.README).
var (
	//go:embed testdata/smime-enveloped.eml
	smimeEnveloped []byte
	//go:embed testdata/pgp-encrypted.asc
	pgpEncrypted []byte
)

// clientShapes adds to the fidelity corpus the shapes particular clients
// and devices send, as they put them on the wire: Apple Mail's
// attachments inside the HTML alternative and its AppleDouble files,
// scan-to-mail devices and fax gateways, encrypted S/MIME and PGP/MIME,
// attached messages sent in base64, Outlook items attached as .msg
// files, meeting requests. inner is a message
// holding offer-77.pdf.
func clientShapes(fx *[]Fixture, add func(name string, body mailgen.Entity, files ...string), r *rand.Rand, inner []byte) {
	pdf := func(title string, size int) []byte { return mailgen.PDF(r, title, size) }
	text := mailgen.TextPart("Please see the attachment.\n")
	field := func(kv ...string) mailgen.Header {
		var h mailgen.Header
		for i := 0; i < len(kv); i += 2 {
			h = append(h, mailgen.Field{Key: kv[i], Value: kv[i+1]})
		}
		return h
	}
	// The last fixture added, for what mailgen.Envelope cannot write.
	last := func() *Fixture { return &(*fx)[len(*fx)-1] }

	// Apple Mail and iOS Mail put a file where it was dropped into the
	// text: inside the HTML alternative, between two pieces of HTML, so a
	// reader that takes one alternative loses it.
	add("apple-attachment-in-html-alternative", mailgen.Multipart("alternative",
		mailgen.TextPart("Hi,\n\nthe invoice:\n\nRegards\n"),
		mailgen.Multipart("mixed",
			mailgen.HTMLPart("<html><body>Hi,<br><br>the invoice:<br></body></html>"),
			mailgen.Entity{Header: field(
				"Content-Disposition", "inline;\r\n\tfilename=\"Rechnung 2026-014.pdf\"",
				"Content-Type", "application/pdf;\r\n\tx-unix-mode=0644;\r\n\tname=\"Rechnung 2026-014.pdf\"",
				"Content-Transfer-Encoding", "base64"), Body: mailgen.Base64Lines(pdf("Rechnung 2026-014", 4000))},
			mailgen.HTMLPart("<html><body><br>Regards</body></html>"))),
		"Rechnung 2026-014.pdf")
	// A Mac file with its Finder information (RFC 1740): the header fork
	// and the data fork both carry the name; only the data fork is a file.
	add("apple-appledouble", mailgen.Multipart("mixed", text, mailgen.Multipart("appledouble",
		mailgen.Entity{Header: field(
			"Content-Type", "application/applefile;\r\n\tname=\"Preisliste 2026.pdf\"",
			"Content-Transfer-Encoding", "base64"), Body: mailgen.Base64Lines(appleDoubleHeader("PDF ", "CARO"))},
		mailgen.Entity{Header: field(
			"Content-Disposition", "attachment;\r\n\tfilename=\"Preisliste 2026.pdf\"",
			"Content-Type", "application/pdf;\r\n\tx-mac-type=50444620;\r\n\tx-unix-mode=0644;\r\n\tx-mac-creator=4341524F;\r\n\tname=\"Preisliste 2026.pdf\"",
			"Content-Transfer-Encoding", "base64"), Body: mailgen.Base64Lines(pdf("Preisliste 2026", 3000))})),
		"Preisliste 2026.pdf")

	// Scan-to-mail devices: the name only on Content-Type, unquoted with
	// spaces, the encoding in capitals, no MIME-Version.
	add("scanner-unquoted-name-no-mime-version", mailgen.Multipart("mixed",
		mailgen.TextPart("Scanned from MFP-4F.\n"),
		mailgen.Entity{Header: field(
			"Content-Type", "application/pdf; name=Scan 2026-01-05 081500.pdf",
			"Content-Transfer-Encoding", "BASE64"), Body: mailgen.Base64Lines(pdf("Scan", 3000))}),
		"Scan 2026-01-05 081500.pdf")
	last().Raw = bytes.Replace(last().Raw, []byte("MIME-Version: 1.0\r\n"), nil, 1)
	// The whole scan in one base64 line, larger than a body enmime is
	// shown (elide.go).
	add("scanner-one-base64-line", mailgen.Multipart("mixed",
		mailgen.TextPart("Scanned from MFP-4F.\n"),
		mailgen.Entity{Header: field(
			"Content-Type", `application/pdf; name="scan0001.pdf"`,
			"Content-Transfer-Encoding", "Base64"), Body: []byte(base64.StdEncoding.EncodeToString(pdf("One line", 40000)) + "\r\n")}),
		"scan0001.pdf")
	// A fax gateway's name in raw ISO-8859-1, undeclared.
	add("fax-8bit-name", mailgen.Multipart("mixed",
		mailgen.TextPart("Fax received, 2 pages.\n"),
		mailgen.Entity{Header: field(
			"Content-Type", "application/pdf; name=\"Fax an Buchhaltung f\xfcr M\xe4rz.pdf\"",
			"Content-Transfer-Encoding", "base64"), Body: mailgen.Base64Lines(pdf("Fax", 3000))}),
		"Fax an Buchhaltung für März.pdf")

	// Encrypted mail is saved as it came: the envelope, and PGP/MIME's
	// encrypted data, named (Thunderbird) or not (RFC 3156's example).
	*fx = append(*fx, Fixture{Name: "smime-enveloped", Raw: append([]byte(nil), smimeEnveloped...), Files: []string{"smime.p7m"}})
	version := mailgen.Entity{Header: field("Content-Type", "application/pgp-encrypted", "Content-Description", "PGP/MIME version identification"), Body: []byte("Version: 1\r\n")}
	add("pgp-mime-encrypted", mailgen.Multipart(`encrypted; protocol="application/pgp-encrypted"`, version,
		mailgen.Entity{Header: field(
			"Content-Type", `application/octet-stream; name="encrypted.asc"`,
			"Content-Description", "OpenPGP encrypted message",
			"Content-Disposition", `inline; filename="encrypted.asc"`), Body: pgpEncrypted}),
		"encrypted.asc")
	add("pgp-mime-encrypted-unnamed", mailgen.Multipart(`encrypted; protocol="application/pgp-encrypted"`, version,
		mailgen.Entity{Header: field("Content-Type", "application/octet-stream"), Body: pgpEncrypted}),
		"attachment-1.asc")

	// An attached message in base64, which RFC 2046 forbids and gateways
	// send, attached and shown in the text.
	add("rfc822-base64-attached", mailgen.Multipart("mixed", text, mailgen.Entity{Header: field(
		"Content-Type", "message/rfc822",
		"Content-Disposition", `attachment; filename="Weitergeleitet.eml"`,
		"Content-Transfer-Encoding", "base64"), Body: mailgen.Base64Lines(inner)}),
		"offer-77.pdf")
	add("rfc822-base64-inline", mailgen.Multipart("mixed", text, mailgen.Entity{Header: field(
		"Content-Type", "message/rfc822",
		"Content-Transfer-Encoding", "base64"), Body: mailgen.Base64Lines(inner)}),
		"offer-77.pdf")

	// An Outlook item attached as a file, as Outlook sends one dragged
	// into a mail: the invoice inside it, and inside the mail it forwards;
	// and as a .msg saved to disk and attached by another client, an
	// older Outlook's 8-bit names in it, in a compound file of 4096-byte
	// sectors.
	add("outlook-msg-attached", mailgen.Multipart("mixed", text, mailgen.AttachmentPart(Attachment{Name: "RE_ Angebot.msg", ContentType: "application/vnd.ms-outlook", Content: OutlookMsg(OutlookItem{
		Subject: "RE: Angebot", Codepage: 1252, Attachments: []OutlookAttachment{
			{Name: "Rechnung 2026-031.pdf", Short: "RECHNU~1.PDF", MIMEType: "application/pdf", Content: pdf("Rechnung 2026-031", 6000)},
			{Name: "Preisliste.xlsx", Content: mailgen.ZIP(r, "xl/workbook.xml", 1500)},
			{Name: "Fwd: Anfrage", Message: &OutlookItem{Subject: "Anfrage", Attachments: []OutlookAttachment{
				{Name: "Anfrage.pdf", MIMEType: "application/pdf", Content: pdf("Anfrage", 2500)},
			}}},
		}})}, mailgen.NamePlain)),
		"Rechnung 2026-031.pdf", "Preisliste.xlsx", "Anfrage.pdf")
	add("outlook-msg-octet-stream", mailgen.Multipart("mixed", text, mailgen.AttachmentPart(Attachment{Name: "Lieferung.msg", ContentType: "application/octet-stream", Content: OutlookMsgSectors(OutlookItem{
		Subject: "Lieferung", Codepage: 1252, Attachments: []OutlookAttachment{
			{Name: "Lieferschein März.pdf", String8: true, Content: pdf("Lieferschein", 3000)},
		}}, 4096)}, mailgen.NamePlain)),
		"Lieferschein März.pdf")

	// An Outlook item dragged into a rich-text mail: the .msg travels
	// inside winmail.dat, beside a file attached directly; and a
	// rich-text mail saved as a .msg and attached by another client: its
	// winmail.dat inside the .msg. (Bytes of their own, so that the
	// fixtures after these keep theirs.)
	own := rand.New(rand.NewPCG(4711, 3))
	add("outlook-msg-in-winmail-dat", mailgen.Multipart("mixed", text, mailgen.AttachmentPart(Attachment{Name: "winmail.dat", ContentType: "application/ms-tnef", Content: TNEF(
		TNEFFile{Name: "WG Angebot 2026-044.msg", Content: OutlookMsg(OutlookItem{Subject: "Angebot 2026-044", Attachments: []OutlookAttachment{
			{Name: "Angebot 2026-044.pdf", MIMEType: "application/pdf", Content: mailgen.PDF(own, "Angebot 2026-044", 3000)},
		}})},
		TNEFFile{Name: "Konditionen.pdf", MIMEType: "application/pdf", Content: mailgen.PDF(own, "Konditionen", 2000)})}, mailgen.NamePlain)),
		"Angebot 2026-044.pdf", "Konditionen.pdf")
	add("winmail-dat-in-outlook-msg", mailgen.Multipart("mixed", text, mailgen.AttachmentPart(Attachment{Name: "Rechnung RTF.msg", ContentType: "application/octet-stream", Content: OutlookMsg(OutlookItem{
		Subject: "Rechnung 2026-052", Attachments: []OutlookAttachment{
			{Name: "winmail.dat", MIMEType: "application/ms-tnef", Content: TNEF(TNEFFile{Name: "Rechnung 2026-052.pdf", Content: mailgen.PDF(own, "Rechnung 2026-052", 2500)})},
		}})}, mailgen.NamePlain)),
		"Rechnung 2026-052.pdf")

	// Meeting requests: Outlook's in the alternatives only (no file), and
	// Gmail's with invite.ics beside it.
	ics := mailgen.CRLF("BEGIN:VCALENDAR\nMETHOD:REQUEST\nVERSION:2.0\nBEGIN:VEVENT\nUID:040000008200E00074C5B7101A82E008@example.test\nDTSTART:20260112T090000Z\nSUMMARY:Budget 2026\nEND:VEVENT\nEND:VCALENDAR\n")
	calendar := mailgen.Entity{Header: field("Content-Type", `text/calendar; charset="utf-8"; method=REQUEST`, "Content-Transfer-Encoding", "base64"), Body: mailgen.Base64Lines(ics)}
	add("outlook-meeting-request", mailgen.Multipart("alternative",
		mailgen.TextPart("Budget 2026, Monday 10:00.\n"), mailgen.HTMLPart("<p>Budget 2026, Monday 10:00.</p>"), calendar))
	add("gmail-meeting-request", mailgen.Multipart("mixed",
		mailgen.Multipart("alternative", mailgen.TextPart("Budget 2026, Monday 10:00.\n"), mailgen.HTMLPart("<p>Budget 2026, Monday 10:00.</p>"), calendar),
		mailgen.Entity{Header: field(
			"Content-Type", `application/ics; name="invite.ics"`,
			"Content-Disposition", `attachment; filename="invite.ics"`,
			"Content-Transfer-Encoding", "base64"), Body: mailgen.Base64Lines(ics)}),
		"invite.ics")
}

// appleDoubleHeader is an AppleDouble header fork (RFC 1740, AppleSingle/
// AppleDouble v2) holding only the Finder information of a file of the
// given type and creator.
func appleDoubleHeader(fileType, creator string) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, []uint32{0x00051607, 0x00020000})
	b.Write(make([]byte, 16)) // filler
	binary.Write(&b, binary.BigEndian, uint16(1))
	binary.Write(&b, binary.BigEndian, []uint32{9, 26 + 12, 32}) // entry 9: Finder info, offset, length
	b.WriteString(fileType + creator)
	b.Write(make([]byte, 24))
	return b.Bytes()
}
