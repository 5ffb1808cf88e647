package testmail

import (
	_ "embed"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
)

// opaqueSigned is an opaque S/MIME signed message made with openssl (see
// testdata/opaque-signed.README).
//
//go:embed testdata/opaque-signed.eml
var opaqueSigned []byte

// OpaqueSigned is an opaque S/MIME signed message, as Outlook sends one:
// application/x-pkcs7-mime; smime-type=signed-data, the real message (a
// text and invoice-4711.pdf) inside the envelope.
func OpaqueSigned() []byte { return append([]byte(nil), opaqueSigned...) }

// FidelityCorpus returns messages in the shapes real mailboxes hold that
// an extractor gets wrong when it knows only plain MIME, and the usual
// ones around them: uuencode parts and blocks in the text, Exchange's
// folded encoded-word names, unnamed inline forwards and digests, an mbox
// From line or blank-ish line before the header, winmail.dat (TNEF),
// opaque S/MIME signed mail; RFC 2231 continuations and RFC 2047 names in
// every charset extract decodes, attached messages, inline images,
// bounces. Files lists the names a correct extractor takes out with
// nested = "extract" and tnef = "extract", in order.
func FidelityCorpus() []Fixture {
	r := rand.New(rand.NewPCG(18, 2026))
	var fx []Fixture
	add := func(name string, body entity, files ...string) {
		env := envelope{
			from: mail.Address{Name: "Fidelity Sender", Address: "sender@fidelity.example"}, to: mail.Address{Address: "inbox@example.test"},
			subject: "Fidelity: " + name, date: time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC).Add(time.Duration(len(fx)) * time.Hour),
			id: fmt.Sprintf("fidelity-%02d@mailtask.example", len(fx)),
		}
		fx = append(fx, Fixture{Name: name, Raw: env.message(body), Files: files})
	}
	pdf := func(title string) []byte { return pdfSized(r, title, 2000+r.IntN(3000)) }
	att := func(name, ctype string, content []byte) entity {
		return attachmentPart(Attachment{Name: name, ContentType: ctype, Content: content}, namePlain)
	}
	text := textPart("Please see the attachment.\n")

	// uuencoded parts, under every name mailers give the encoding.
	for i, cte := range []string{"x-uuencode", "uuencode", "x-uue"} {
		name := []string{"REQUEST FOR QUOTE.zip", "redball.png", "Lieferschein.pdf"}[i]
		content := [][]byte{zipArchive(r, "quote.txt", 3000), pngSized(r, 2000), pdf("uu")}[i]
		add("uuencode-"+cte, multipart("mixed", text, entity{header: header{
			{"Content-Type", ctypeOf(name) + `; name="` + name + `"`},
			{"Content-Disposition", `attachment; filename="` + name + `"`},
			{"Content-Transfer-Encoding", cte},
		}, body: []byte(UUencode(name, content))}), name)
	}
	// uuencoded blocks in the text, as old clients and scanners send them.
	blocks := "Hello,\r\n\r\nthe files:\r\n\r\n" + UUencode("scan0001.pdf", pdf("scan")) + "\r\n" + UUencode("chart.png", pngSized(r, 1500)) + "Regards\r\n"
	add("uuencode-in-mime-text", multipart("mixed", entity{header: header{{"Content-Type", "text/plain; charset=us-ascii"}}, body: []byte(blocks)},
		att("cover.pdf", "application/pdf", pdf("cover"))), "scan0001.pdf", "chart.png", "cover.pdf")
	add("uuencode-in-plain-message", entity{body: []byte(blocks)}, "scan0001.pdf", "chart.png")

	// Exchange: the quoted encoded-words after a fold, more parameters after.
	for _, c := range []struct{ charset, name string }{
		{"iso-8859-1", "50032266 Rechnung für 1467829.pdf"}, {"utf-8", "Auftragsbestätigung Nr. 88.pdf"}, {"windows-1252", "Offerte – Müller.pdf"},
	} {
		w := encodedWords(c.charset, c.name, 30)
		add("exchange-folded-"+c.charset, multipart("mixed", text, entity{header: header{
			{"Content-Type", "application/pdf;\r\n\tname=\r\n\t\"" + w + "\""},
			{"Content-Disposition", "attachment; filename=\r\n\t\"" + w + "\"; size=4711;\r\n\tcreation-date=\"Fri, 05 Jul 2019 10:00:00 GMT\";\r\n\tmodification-date=\"Fri, 05 Jul 2019 10:00:00 GMT\""},
			{"Content-Transfer-Encoding", "base64"},
		}, body: base64Lines(pdf(c.name))}), c.name)
	}
	add("space-before-quoted-name", multipart("mixed", text, entity{header: header{
		{"Content-Type", "application/pdf"}, {"Content-Disposition", `attachment; filename= "=?utf-8?Q?Rechnung_M=C3=A4rz.pdf?="`}, {"Content-Transfer-Encoding", "base64"},
	}, body: base64Lines(pdf("märz"))}), "Rechnung März.pdf")

	// Unnamed messages shown in the text.
	inner := envelope{from: mail.Address{Address: "origin@example.test"}, subject: "Original", date: time.Date(2025, 12, 1, 9, 0, 0, 0, time.UTC), id: "orig@example.test"}.
		message(multipart("mixed", textPart("Original text.\n"), att("offer-77.pdf", "application/pdf", pdf("offer"))))
	fwd := inner
	for range 3 {
		fwd = envelope{from: mail.Address{Address: "fwd@example.test"}, subject: "Fwd: Original", date: time.Date(2025, 12, 2, 9, 0, 0, 0, time.UTC), id: "fwd@example.test"}.
			message(multipart("mixed", textPart("-------- Original Message --------\n"), entity{header: header{{"Content-Type", "message/rfc822"}, {"Content-Disposition", "inline"}}, body: fwd}))
	}
	add("inline-forward-3-deep", multipart("mixed", textPart("FYI\n"), entity{header: header{{"Content-Type", "message/rfc822"}, {"Content-Disposition", "inline"}}, body: fwd}), "offer-77.pdf")
	add("digest", multipart("digest",
		entity{body: []byte("Subject: text only\r\n\r\nno files here\r\n")},
		entity{body: inner},
		entity{header: header{{"Content-Type", "message/rfc822"}}, body: inner},
	), "offer-77.pdf", "offer-77.pdf")
	add("rfc822-no-disposition", multipart("mixed", text, entity{header: header{{"Content-Type", "message/rfc822"}}, body: inner}), "offer-77.pdf")
	add("rfc822-attached-named", multipart("mixed", text, entity{header: header{{"Content-Type", "message/rfc822"}, {"Content-Disposition", `attachment; filename="Original.eml"`}}, body: inner}), "offer-77.pdf")

	// TNEF.
	add("tnef-unicode-names", multipart("mixed", text, att("winmail.dat", "application/ms-tnef", TNEF(
		TNEFFile{Name: "Jahresübersicht 2024 – Entwurf.xlsx", Content: zipArchive(r, "xl/workbook.xml", 2000)},
		TNEFFile{Name: "報告書.pdf", MIMEType: "application/pdf", Content: pdf("tnef")},
	))), "Jahresübersicht 2024 – Entwurf.xlsx", "報告書.pdf")
	add("tnef-8bit-names", multipart("mixed", text, att("winmail.dat", "application/ms-tnef", TNEF(
		TNEFFile{Name: "Preisübersicht.csv", String8: true, Content: csvTable(r, 800)},
		TNEFFile{Name: "Anlage.pdf", String8: true, Content: pdf("anlage")},
	))), "Preisübersicht.csv", "Anlage.pdf")

	add("tnef-with-attached-message", multipart("mixed", text, att("winmail.dat", "application/ms-tnef", TNEF(
		TNEFFile{Name: "Angebot.pdf", Content: pdf("angebot")},
		TNEFFile{Name: "Fwd: Anfrage", Message: true, Content: TNEF(TNEFFile{Name: "Anfrage.pdf", Content: pdf("anfrage")})},
	))), "Angebot.pdf", "winmail.dat")
	add("tnef-in-attached-message", multipart("mixed", text, entity{header: header{{"Content-Type", "message/rfc822"}, {"Content-Disposition", `attachment; filename="Outlook.eml"`}},
		body: envelope{from: mail.Address{Address: "outlook@example.test"}, subject: "rich", date: time.Date(2025, 11, 3, 9, 0, 0, 0, time.UTC), id: "rich@example.test"}.
			message(multipart("mixed", textPart("Rich text.\n"), att("winmail.dat", "application/ms-tnef", TNEF(TNEFFile{Name: "Bericht Q3.docx", Content: zipArchive(r, "word/document.xml", 1500)}))))}),
		"Bericht Q3.docx")

	// Opaque S/MIME signed.
	fx = append(fx, Fixture{Name: "smime-opaque-signed", Raw: OpaqueSigned(), Files: []string{"invoice-4711.pdf"}})

	// Names in every charset extract decodes, as RFC 2047 words and as
	// RFC 2231 values, continued where long.
	for _, c := range []struct{ charset, name string }{
		{"utf-8", "Übersicht €-Preise.pdf"}, {"iso-8859-1", "Grüße aus Köln.pdf"}, {"iso-8859-2", "Zażółć gęślą.pdf"},
		{"iso-8859-15", "Prix en €.pdf"}, {"windows-1250", "Šiling účet.pdf"}, {"windows-1251", "Счёт-фактура.pdf"},
		{"windows-1252", "Café – menu.pdf"}, {"koi8-r", "Отчёт за март.pdf"}, {"shift_jis", "見積書 2026.pdf"},
		{"euc-jp", "請求書.pdf"}, {"iso-2022-jp", "納品書.pdf"}, {"gbk", "发票 2026.pdf"}, {"big5", "報價單.pdf"}, {"euc-kr", "견적서.pdf"},
	} {
		add("rfc2047-"+c.charset, multipart("mixed", text, entity{header: header{
			{"Content-Type", `application/pdf; name="` + encodedWords(c.charset, c.name, 40) + `"`},
			{"Content-Disposition", `attachment; filename="` + encodedWords(c.charset, c.name, 40) + `"`},
			{"Content-Transfer-Encoding", "base64"},
		}, body: base64Lines(pdf(c.name))}), c.name)
		add("rfc2231-"+c.charset, multipart("mixed", text, entity{header: header{
			{"Content-Type", "application/pdf"},
			{"Content-Disposition", "attachment;\r\n " + continued(c.charset, c.name)},
			{"Content-Transfer-Encoding", "base64"},
		}, body: base64Lines(pdf(c.name))}), c.name)
	}

	// The usual shapes around them.
	add("inline-image-named", multipart("mixed", multipart("related",
		htmlPart(`<p>Chart: <img src="cid:chart"></p>`),
		attachmentPart(Attachment{Name: "chart.png", ContentType: "image/png", Content: pngSized(r, 1200), Inline: true}, namePlain)),
		att("data.csv", "text/csv", csvTable(r, 500))), "chart.png", "data.csv")
	add("inline-logo-unnamed", multipart("mixed", multipart("related",
		htmlPart(`<p>Logo: <img src="cid:logo"></p>`), inlineImage(pngSized(r, 900), "logo")),
		att("order.pdf", "application/pdf", pdf("order"))), "order.pdf")
	add("quoted-printable-attachment", multipart("mixed", text, quotedPrintableAttachment("notes.txt", "Grüße,\nnotes with = signs and long lines "+strings.Repeat("abc ", 40)+"\n")), "notes.txt")
	add("8bit-csv", multipart("mixed", text, entity{header: header{
		{"Content-Type", `text/csv; charset=windows-1252; name="liste.csv"`}, {"Content-Disposition", `attachment; filename="liste.csv"`}, {"Content-Transfer-Encoding", "8bit"},
	}, body: []byte("Name;Ort\r\nM\xfcller;K\xf6ln\r\n")}), "liste.csv")
	add("bounce-with-original", multipart("report; report-type=delivery-status",
		textPart("This is the mail system at host mx.example.test.\n\nYour message could not be delivered.\n"),
		entity{header: header{{"Content-Type", "message/delivery-status"}}, body: crlf("Reporting-MTA: dns; mx.example.test\n\nFinal-Recipient: rfc822; gone@example.test\nAction: failed\nStatus: 5.1.1\n")},
		entity{header: header{{"Content-Type", "message/rfc822"}}, body: inner},
	), "offer-77.pdf")
	add("bounce-headers-only", multipart("report; report-type=delivery-status",
		textPart("Delivery has failed.\n"),
		entity{header: header{{"Content-Type", "message/delivery-status"}}, body: crlf("Reporting-MTA: dns; mx.example.test\n\nFinal-Recipient: rfc822; gone@example.test\nAction: failed\nStatus: 5.2.2\n")},
		entity{header: header{{"Content-Type", "text/rfc822-headers"}}, body: crlf("From: a@example.test\nSubject: big\n")},
	))
	add("alternative-and-attachments", multipart("mixed",
		multipart("alternative", textPart("plain\n"), htmlPart("<p>html</p>")),
		att("a.pdf", "application/pdf", pdf("a")), att("b.jpg", "image/jpeg", jpegSized(r, 2000)), att("c.zip", "application/zip", zipArchive(r, "c.txt", 1000))),
		"a.pdf", "b.jpg", "c.zip")
	add("octet-stream-named-by-type", multipart("mixed", text, entity{header: header{
		{"Content-Type", `application/octet-stream; name="export.dat"`}, {"Content-Transfer-Encoding", "base64"},
	}, body: base64Lines(randomBytes(r, 700))}), "export.dat")
	add("single-part-attachment", entity{header: header{
		{"Content-Type", `application/pdf; name="scan.pdf"`}, {"Content-Disposition", `attachment; filename="scan.pdf"`}, {"Content-Transfer-Encoding", "base64"},
	}, body: base64Lines(pdf("single"))}, "scan.pdf")
	add("signed-multipart-detached", multipart("signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256",
		multipart("mixed", text, att("contract.pdf", "application/pdf", pdf("contract"))),
		entity{header: header{{"Content-Type", `application/pkcs7-signature; name="smime.p7s"`}, {"Content-Disposition", `attachment; filename="smime.p7s"`}, {"Content-Transfer-Encoding", "base64"}}, body: base64Lines(randomBytes(r, 400))},
	), "contract.pdf", "smime.p7s")

	add("duplicate-names", multipart("mixed", text, att("report.pdf", "application/pdf", pdf("r1")), att("report.pdf", "application/pdf", pdf("r2"))), "report.pdf", "report.pdf")
	long := strings.Repeat("Sehr langer Dateiname ", 8) + "Ende.pdf"
	add("long-rfc2231-name", multipart("mixed", text, entity{header: header{
		{"Content-Type", "application/pdf"}, {"Content-Disposition", "attachment;\r\n " + continued("utf-8", long)}, {"Content-Transfer-Encoding", "base64"},
	}, body: base64Lines(pdf("long"))}), long)
	add("inline-pdf-named", multipart("mixed", text, attachmentPart(Attachment{Name: "shown.pdf", ContentType: "application/pdf", Content: pdf("shown"), Inline: true}, namePlain)), "shown.pdf")

	// A harmless first line: the mbox separator, a line of spaces.
	withFile := multipart("mixed", text, att("after-from-line.pdf", "application/pdf", pdf("from")))
	add("mbox-from-line", withFile, "after-from-line.pdf")
	fx[len(fx)-1].Raw = append([]byte("From sender@fidelity.example Mon Jan  5 08:00:00 2026\r\n"), fx[len(fx)-1].Raw...)
	add("spaces-line-first", withFile, "after-from-line.pdf")
	fx[len(fx)-1].Raw = append([]byte("   \r\n"), fx[len(fx)-1].Raw...)
	return fx
}

// ctypeOf is the media type of a file name in the corpus.
func ctypeOf(name string) string {
	switch {
	case strings.HasSuffix(name, ".zip"):
		return "application/zip"
	case strings.HasSuffix(name, ".png"):
		return "image/png"
	case strings.HasSuffix(name, ".pdf"):
		return "application/pdf"
	}
	return "application/octet-stream"
}

// UUencode encodes content as uuencode(1) does, begin and end lines
// included, with CRLF line ends.
func UUencode(name string, content []byte) string {
	var b strings.Builder
	b.WriteString("begin 644 " + name + "\r\n")
	enc := func(v byte) byte {
		if v == 0 {
			return '`'
		}
		return v + ' '
	}
	for len(content) > 0 {
		n := min(45, len(content))
		line := content[:n]
		content = content[n:]
		b.WriteByte(enc(byte(n)))
		for i := 0; i < n; i += 3 {
			var q [3]byte
			copy(q[:], line[i:min(i+3, n)])
			b.Write([]byte{enc(q[0] >> 2), enc((q[0]<<4 | q[1]>>4) & 0x3f), enc((q[1]<<2 | q[2]>>6) & 0x3f), enc(q[2] & 0x3f)})
		}
		b.WriteString("\r\n")
	}
	b.WriteString("`\r\nend\r\n")
	return b.String()
}

// charsetEncoder encodes into a charset by its MIME name.
func charsetEncoder(charset string) *encoding.Encoder {
	enc, err := htmlindex.Get(charset)
	if err != nil {
		panic(charset + ": " + err.Error())
	}
	return enc.NewEncoder()
}

// encodedWords is name in charset as RFC 2047 Q words of at most about
// width bytes of text each, separated by a fold, never splitting a
// character (each word decodes alone, as RFC 2047 asks). mime.QEncoding
// encodes UTF-8 text only, so the charset's bytes are put in by hand.
func encodedWords(charset, name string, width int) string {
	var words []string
	var cur []byte
	for _, ru := range name {
		b, err := charsetEncoder(charset).Bytes([]byte(string(ru)))
		if err != nil {
			panic(err)
		}
		if len(cur)+len(b) > width {
			flushQ(&words, charset, cur)
			cur = nil
		}
		cur = append(cur, b...)
	}
	flushQ(&words, charset, cur)
	return strings.Join(words, "\r\n ")
}

// flushQ appends the Q encoded-word of raw bytes in charset.
func flushQ(words *[]string, charset string, raw []byte) {
	if len(raw) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString("=?" + charset + "?Q?")
	for _, c := range raw {
		switch {
		case c == ' ':
			b.WriteByte('_')
		case c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	b.WriteString("?=")
	*words = append(*words, b.String())
}

// continued is filename*0*=charset”...; filename*1*=... of name in
// charset, percent-encoded, in sections of about 20 bytes that never split
// a character.
func continued(charset, name string) string {
	var sections []string
	var cur strings.Builder
	for _, ru := range name {
		b, err := charsetEncoder(charset).Bytes([]byte(string(ru)))
		if err != nil {
			panic(err)
		}
		if cur.Len() > 20 {
			sections = append(sections, cur.String())
			cur.Reset()
		}
		cur.WriteString(percentEncode(string(b)))
	}
	sections = append(sections, cur.String())
	var parts []string
	for i, s := range sections {
		if i == 0 {
			s = charset + "''" + s
		}
		parts = append(parts, fmt.Sprintf("filename*%d*=%s", i, s))
	}
	return strings.Join(parts, ";\r\n ")
}
