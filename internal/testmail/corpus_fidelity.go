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

	"mailtask/internal/mailgen"
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
// bounces, and the automatic mail a task skips (corpus_automatic.go,
// Fixture.Automatic). Files lists the names a correct extractor takes out
// with nested = "extract" and tnef = "extract", in order.
func FidelityCorpus() []Fixture {
	r := rand.New(rand.NewPCG(18, 2026))
	var fx []Fixture
	add := func(name string, body mailgen.Entity, files ...string) {
		env := mailgen.Envelope{
			From: mail.Address{Name: "Fidelity Sender", Address: "sender@fidelity.example"}, To: mail.Address{Address: "inbox@example.test"},
			Subject: "Fidelity: " + name, Date: time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC).Add(time.Duration(len(fx)) * time.Hour),
			ID: fmt.Sprintf("fidelity-%02d@mailtask.example", len(fx)),
		}
		fx = append(fx, Fixture{Name: name, Raw: env.Message(body), Files: files})
	}
	pdf := func(title string) []byte { return mailgen.PDF(r, title, 2000+r.IntN(3000)) }
	att := func(name, ctype string, content []byte) mailgen.Entity {
		return mailgen.AttachmentPart(Attachment{Name: name, ContentType: ctype, Content: content}, mailgen.NamePlain)
	}
	text := mailgen.TextPart("Please see the attachment.\n")

	// uuencoded parts, under every name mailers give the encoding.
	for i, cte := range []string{"x-uuencode", "uuencode", "x-uue"} {
		name := []string{"REQUEST FOR QUOTE.zip", "redball.png", "Lieferschein.pdf"}[i]
		content := [][]byte{mailgen.ZIP(r, "quote.txt", 3000), mailgen.PNG(r, 2000), pdf("uu")}[i]
		add("uuencode-"+cte, mailgen.Multipart("mixed", text, mailgen.Entity{Header: mailgen.Header{
			{Key: "Content-Type", Value: ctypeOf(name) + `; name="` + name + `"`},
			{Key: "Content-Disposition", Value: `attachment; filename="` + name + `"`},
			{Key: "Content-Transfer-Encoding", Value: cte},
		}, Body: []byte(UUencode(name, content))}), name)
	}
	// uuencoded blocks in the text, as old clients and scanners send them.
	blocks := "Hello,\r\n\r\nthe files:\r\n\r\n" + UUencode("scan0001.pdf", pdf("scan")) + "\r\n" + UUencode("chart.png", mailgen.PNG(r, 1500)) + "Regards\r\n"
	add("uuencode-in-mime-text", mailgen.Multipart("mixed", mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "text/plain; charset=us-ascii"}}, Body: []byte(blocks)},
		att("cover.pdf", "application/pdf", pdf("cover"))), "scan0001.pdf", "chart.png", "cover.pdf")
	add("uuencode-in-plain-message", mailgen.Entity{Body: []byte(blocks)}, "scan0001.pdf", "chart.png")

	// Exchange: the quoted encoded-words after a fold, more parameters after.
	for _, c := range []struct{ charset, name string }{
		{"iso-8859-1", "50032266 Rechnung für 1467829.pdf"}, {"utf-8", "Auftragsbestätigung Nr. 88.pdf"}, {"windows-1252", "Offerte – Müller.pdf"},
	} {
		w := encodedWords(c.charset, c.name, 30)
		add("exchange-folded-"+c.charset, mailgen.Multipart("mixed", text, mailgen.Entity{Header: mailgen.Header{
			{Key: "Content-Type", Value: "application/pdf;\r\n\tname=\r\n\t\"" + w + "\""},
			{Key: "Content-Disposition", Value: "attachment; filename=\r\n\t\"" + w + "\"; size=4711;\r\n\tcreation-date=\"Fri, 05 Jul 2019 10:00:00 GMT\";\r\n\tmodification-date=\"Fri, 05 Jul 2019 10:00:00 GMT\""},
			{Key: "Content-Transfer-Encoding", Value: "base64"},
		}, Body: mailgen.Base64Lines(pdf(c.name))}), c.name)
	}
	add("space-before-quoted-name", mailgen.Multipart("mixed", text, mailgen.Entity{Header: mailgen.Header{
		{Key: "Content-Type", Value: "application/pdf"}, {Key: "Content-Disposition", Value: `attachment; filename= "=?utf-8?Q?Rechnung_M=C3=A4rz.pdf?="`}, {Key: "Content-Transfer-Encoding", Value: "base64"},
	}, Body: mailgen.Base64Lines(pdf("märz"))}), "Rechnung März.pdf")

	// Unnamed messages shown in the text.
	inner := mailgen.Envelope{From: mail.Address{Address: "origin@example.test"}, Subject: "Original", Date: time.Date(2025, 12, 1, 9, 0, 0, 0, time.UTC), ID: "orig@example.test"}.
		Message(mailgen.Multipart("mixed", mailgen.TextPart("Original text.\n"), att("offer-77.pdf", "application/pdf", pdf("offer"))))
	fwd := inner
	for range 3 {
		fwd = mailgen.Envelope{From: mail.Address{Address: "fwd@example.test"}, Subject: "Fwd: Original", Date: time.Date(2025, 12, 2, 9, 0, 0, 0, time.UTC), ID: "fwd@example.test"}.
			Message(mailgen.Multipart("mixed", mailgen.TextPart("-------- Original Message --------\n"), mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "message/rfc822"}, {Key: "Content-Disposition", Value: "inline"}}, Body: fwd}))
	}
	add("inline-forward-3-deep", mailgen.Multipart("mixed", mailgen.TextPart("FYI\n"), mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "message/rfc822"}, {Key: "Content-Disposition", Value: "inline"}}, Body: fwd}), "offer-77.pdf")
	add("digest", mailgen.Multipart("digest",
		mailgen.Entity{Body: []byte("Subject: text only\r\n\r\nno files here\r\n")},
		mailgen.Entity{Body: inner},
		mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "message/rfc822"}}, Body: inner},
	), "offer-77.pdf", "offer-77.pdf")
	add("rfc822-no-disposition", mailgen.Multipart("mixed", text, mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "message/rfc822"}}, Body: inner}), "offer-77.pdf")
	add("rfc822-attached-named", mailgen.Multipart("mixed", text, mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "message/rfc822"}, {Key: "Content-Disposition", Value: `attachment; filename="Original.eml"`}}, Body: inner}), "offer-77.pdf")

	// TNEF.
	add("tnef-unicode-names", mailgen.Multipart("mixed", text, att("winmail.dat", "application/ms-tnef", TNEF(
		TNEFFile{Name: "Jahresübersicht 2024 – Entwurf.xlsx", Content: mailgen.ZIP(r, "xl/workbook.xml", 2000)},
		TNEFFile{Name: "報告書.pdf", MIMEType: "application/pdf", Content: pdf("tnef")},
	))), "Jahresübersicht 2024 – Entwurf.xlsx", "報告書.pdf")
	add("tnef-8bit-names", mailgen.Multipart("mixed", text, att("winmail.dat", "application/ms-tnef", TNEF(
		TNEFFile{Name: "Preisübersicht.csv", String8: true, Content: mailgen.CSV(r, 800)},
		TNEFFile{Name: "Anlage.pdf", String8: true, Content: pdf("anlage")},
	))), "Preisübersicht.csv", "Anlage.pdf")

	add("tnef-with-attached-message", mailgen.Multipart("mixed", text, att("winmail.dat", "application/ms-tnef", TNEF(
		TNEFFile{Name: "Angebot.pdf", Content: pdf("angebot")},
		TNEFFile{Name: "Fwd: Anfrage", Message: true, Content: TNEF(TNEFFile{Name: "Anfrage.pdf", Content: pdf("anfrage")})},
	))), "Angebot.pdf", "winmail.dat")
	add("tnef-in-attached-message", mailgen.Multipart("mixed", text, mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "message/rfc822"}, {Key: "Content-Disposition", Value: `attachment; filename="Outlook.eml"`}},
		Body: mailgen.Envelope{From: mail.Address{Address: "outlook@example.test"}, Subject: "rich", Date: time.Date(2025, 11, 3, 9, 0, 0, 0, time.UTC), ID: "rich@example.test"}.
			Message(mailgen.Multipart("mixed", mailgen.TextPart("Rich text.\n"), att("winmail.dat", "application/ms-tnef", TNEF(TNEFFile{Name: "Bericht Q3.docx", Content: mailgen.ZIP(r, "word/document.xml", 1500)}))))}),
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
		add("rfc2047-"+c.charset, mailgen.Multipart("mixed", text, mailgen.Entity{Header: mailgen.Header{
			{Key: "Content-Type", Value: `application/pdf; name="` + encodedWords(c.charset, c.name, 40) + `"`},
			{Key: "Content-Disposition", Value: `attachment; filename="` + encodedWords(c.charset, c.name, 40) + `"`},
			{Key: "Content-Transfer-Encoding", Value: "base64"},
		}, Body: mailgen.Base64Lines(pdf(c.name))}), c.name)
		add("rfc2231-"+c.charset, mailgen.Multipart("mixed", text, mailgen.Entity{Header: mailgen.Header{
			{Key: "Content-Type", Value: "application/pdf"},
			{Key: "Content-Disposition", Value: "attachment;\r\n " + continued(c.charset, c.name)},
			{Key: "Content-Transfer-Encoding", Value: "base64"},
		}, Body: mailgen.Base64Lines(pdf(c.name))}), c.name)
	}

	clientShapes(&fx, add, r, inner)
	automaticShapes(&fx, r)
	quarantineNotices(&fx)

	// The usual shapes around them.
	add("inline-image-named", mailgen.Multipart("mixed", mailgen.Multipart("related",
		mailgen.HTMLPart(`<p>Chart: <img src="cid:chart"></p>`),
		mailgen.AttachmentPart(Attachment{Name: "chart.png", ContentType: "image/png", Content: mailgen.PNG(r, 1200), Inline: true}, mailgen.NamePlain)),
		att("data.csv", "text/csv", mailgen.CSV(r, 500))), "chart.png", "data.csv")
	add("inline-logo-unnamed", mailgen.Multipart("mixed", mailgen.Multipart("related",
		mailgen.HTMLPart(`<p>Logo: <img src="cid:logo"></p>`), mailgen.InlineImage(mailgen.PNG(r, 900), "logo")),
		att("order.pdf", "application/pdf", pdf("order"))), "order.pdf")
	add("quoted-printable-attachment", mailgen.Multipart("mixed", text, mailgen.QuotedPrintableAttachment("notes.txt", "Grüße,\nnotes with = signs and long lines "+strings.Repeat("abc ", 40)+"\n")), "notes.txt")
	add("8bit-csv", mailgen.Multipart("mixed", text, mailgen.Entity{Header: mailgen.Header{
		{Key: "Content-Type", Value: `text/csv; charset=windows-1252; name="liste.csv"`}, {Key: "Content-Disposition", Value: `attachment; filename="liste.csv"`}, {Key: "Content-Transfer-Encoding", Value: "8bit"},
	}, Body: []byte("Name;Ort\r\nM\xfcller;K\xf6ln\r\n")}), "liste.csv")
	add("bounce-with-original", mailgen.Multipart("report; report-type=delivery-status",
		mailgen.TextPart("This is the mail system at host mx.example.test.\n\nYour message could not be delivered.\n"),
		mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "message/delivery-status"}}, Body: mailgen.CRLF("Reporting-MTA: dns; mx.example.test\n\nFinal-Recipient: rfc822; gone@example.test\nAction: failed\nStatus: 5.1.1\n")},
		mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "message/rfc822"}}, Body: inner},
	), "offer-77.pdf")
	fx[len(fx)-1].Automatic = "delivery-report"
	add("bounce-headers-only", mailgen.Multipart("report; report-type=delivery-status",
		mailgen.TextPart("Delivery has failed.\n"),
		mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "message/delivery-status"}}, Body: mailgen.CRLF("Reporting-MTA: dns; mx.example.test\n\nFinal-Recipient: rfc822; gone@example.test\nAction: failed\nStatus: 5.2.2\n")},
		mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: "text/rfc822-headers"}}, Body: mailgen.CRLF("From: a@example.test\nSubject: big\n")},
	))
	fx[len(fx)-1].Automatic = "delivery-report"
	add("alternative-and-attachments", mailgen.Multipart("mixed",
		mailgen.Multipart("alternative", mailgen.TextPart("plain\n"), mailgen.HTMLPart("<p>html</p>")),
		att("a.pdf", "application/pdf", pdf("a")), att("b.jpg", "image/jpeg", mailgen.JPEG(r, 2000)), att("c.zip", "application/zip", mailgen.ZIP(r, "c.txt", 1000))),
		"a.pdf", "b.jpg", "c.zip")
	add("octet-stream-named-by-type", mailgen.Multipart("mixed", text, mailgen.Entity{Header: mailgen.Header{
		{Key: "Content-Type", Value: `application/octet-stream; name="export.dat"`}, {Key: "Content-Transfer-Encoding", Value: "base64"},
	}, Body: mailgen.Base64Lines(mailgen.RandomBytes(r, 700))}), "export.dat")
	add("single-part-attachment", mailgen.Entity{Header: mailgen.Header{
		{Key: "Content-Type", Value: `application/pdf; name="scan.pdf"`}, {Key: "Content-Disposition", Value: `attachment; filename="scan.pdf"`}, {Key: "Content-Transfer-Encoding", Value: "base64"},
	}, Body: mailgen.Base64Lines(pdf("single"))}, "scan.pdf")
	add("signed-multipart-detached", mailgen.Multipart("signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256",
		mailgen.Multipart("mixed", text, att("contract.pdf", "application/pdf", pdf("contract"))),
		mailgen.Entity{Header: mailgen.Header{{Key: "Content-Type", Value: `application/pkcs7-signature; name="smime.p7s"`}, {Key: "Content-Disposition", Value: `attachment; filename="smime.p7s"`}, {Key: "Content-Transfer-Encoding", Value: "base64"}}, Body: mailgen.Base64Lines(mailgen.RandomBytes(r, 400))},
	), "contract.pdf", "smime.p7s")

	add("duplicate-names", mailgen.Multipart("mixed", text, att("report.pdf", "application/pdf", pdf("r1")), att("report.pdf", "application/pdf", pdf("r2"))), "report.pdf", "report.pdf")
	long := strings.Repeat("Sehr langer Dateiname ", 8) + "Ende.pdf"
	add("long-rfc2231-name", mailgen.Multipart("mixed", text, mailgen.Entity{Header: mailgen.Header{
		{Key: "Content-Type", Value: "application/pdf"}, {Key: "Content-Disposition", Value: "attachment;\r\n " + continued("utf-8", long)}, {Key: "Content-Transfer-Encoding", Value: "base64"},
	}, Body: mailgen.Base64Lines(pdf("long"))}), long)
	add("inline-pdf-named", mailgen.Multipart("mixed", text, mailgen.AttachmentPart(Attachment{Name: "shown.pdf", ContentType: "application/pdf", Content: pdf("shown"), Inline: true}, mailgen.NamePlain)), "shown.pdf")

	// A harmless first line: the mbox separator, a line of spaces.
	withFile := mailgen.Multipart("mixed", text, att("after-from-line.pdf", "application/pdf", pdf("from")))
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
		cur.WriteString(mailgen.PercentEncode(string(b)))
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
