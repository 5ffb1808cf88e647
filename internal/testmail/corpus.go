package testmail

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Fixture is one generated message and what extracting it should give.
type Fixture struct {
	Name  string   // short description, e.g. "invoice-pdf"
	Raw   []byte   // the complete message, CRLF line endings unless the fixture is about them
	Files []string // file names a correct extractor produces, in MIME order, before de-duplication
}

// Attachment is one file for NewMessage.
type Attachment struct {
	Name        string
	ContentType string // default application/octet-stream
	Content     []byte
	Inline      bool // Content-Disposition: inline (with the file name) instead of attachment
}

// NewMessage builds a message from sender@example.test with a short text
// body and the attachments, each base64 encoded with its name in filename=
// (RFC 2231 filename*= when the name is not printable ASCII). The
// Message-ID is derived from the content, so equal calls give equal bytes.
func NewMessage(subject string, attachments ...Attachment) []byte {
	h := sha256.New()
	h.Write([]byte(subject))
	for _, a := range attachments {
		fmt.Fprintf(h, "\x00%s\x00%s\x00%d\x00", a.Name, a.ContentType, len(a.Content))
		h.Write(a.Content)
	}
	env := envelope{
		from:    mail.Address{Name: "Sender", Address: "sender@example.test"},
		to:      mail.Address{Address: "inbox@example.test"},
		subject: subject,
		date:    time.Date(2025, 3, 14, 9, 30, 0, 0, time.FixedZone("", 3600)),
		id:      hex.EncodeToString(h.Sum(nil)[:12]) + "@example.test",
	}
	body := textPart("Please find the attached files.\n")
	if len(attachments) > 0 {
		parts := []entity{body}
		for _, a := range attachments {
			parts = append(parts, attachmentPart(a, namePlain))
		}
		body = multipart("mixed", parts...)
	}
	return env.message(body)
}

// DemoCorpus returns the messages `mailtask demo` preloads: two dozen
// realistic mails of a shared accounting mailbox, covering the shapes an
// extractor must get right (encoded names, duplicate names, inline images,
// name= only, nested messages, a malformed scanner mail).
func DemoCorpus() []Fixture {
	r := rand.New(rand.NewPCG(2025, 314))
	var (
		accounting = mail.Address{Name: "Buchhaltung Müller GmbH", Address: "buchhaltung@mueller.example"}
		vendor     = mail.Address{Name: "Acme Billing", Address: "billing@acme.example"}
		reports    = mail.Address{Name: "BI Reports", Address: "noreply-reports@contoso.example"}
		scanner    = mail.Address{Name: "MFP 3rd floor", Address: "scanner@contoso.example"}
		colleague  = mail.Address{Name: "Jana Nowak", Address: "jana.nowak@contoso.example"}
	)
	pdf := func(title string, size int) []byte { return pdfSized(r, title, size) }
	att := func(name, ctype string, content []byte) entity {
		return attachmentPart(Attachment{Name: name, ContentType: ctype, Content: content}, namePlain)
	}

	forwarded := envelope{
		from: vendor, to: mail.Address{Address: "jana.nowak@contoso.example"},
		subject: "Invoice 7731", date: time.Date(2025, 2, 27, 16, 5, 0, 0, time.UTC), id: "inv-7731@acme.example",
	}.message(multipart("mixed",
		textPart("Dear customer,\n\nplease find invoice 7731 attached.\n"),
		att("invoice-7731.pdf", "application/pdf", pdf("Invoice 7731", 6000)),
	))

	demos := []struct {
		name    string
		from    mail.Address
		subject string
		body    entity
		files   []string
	}{
		{"invoice-pdf", vendor, "Invoice INV-2025-0412", multipart("mixed",
			textPart("Dear customer,\n\nattached is invoice INV-2025-0412, due 2025-04-13.\n\nAcme Billing\n"),
			att("INV-2025-0412.pdf", "application/pdf", pdf("Invoice INV-2025-0412", 14000)),
		), []string{"INV-2025-0412.pdf"}},
		{"invoice-pdf-de", accounting, "Rechnung 2025-118", multipart("mixed",
			textPart("Sehr geehrte Damen und Herren,\n\nanbei unsere Rechnung 2025-118.\n\nMit freundlichen Grüßen\nBuchhaltung\n"),
			att("rechnung-2025-118.pdf", "application/pdf", pdf("Rechnung 2025-118", 22000)),
		), []string{"rechnung-2025-118.pdf"}},
		{"report-csv", reports, "Weekly sales report (week 11)", multipart("mixed",
			textPart("The weekly sales report is attached.\n"),
			att("sales-week-11.csv", "text/csv", csvTable(r, 9000)),
		), []string{"sales-week-11.csv"}},
		{"report-csv-windows-1252", accounting, "Lagerbestand März", multipart("mixed",
			textPart("Anbei der Lagerbestand.\n"),
			att("lagerbestand.csv", "text/csv; charset=windows-1252", []byte("Artikel;Menge;Lager\r\nSchrauben M4;1200;S\xfcd\r\nD\xfcbel 8 mm;350;Nord\r\n")),
		), []string{"lagerbestand.csv"}},
		{"scan-jpeg", scanner, "Scanned document", multipart("mixed",
			textPart("Scanned by MFP 3rd floor.\n"),
			att("scan_0001.jpg", "image/jpeg", jpegSized(r, 40000)),
		), []string{"scan_0001.jpg"}},
		{"scan-png", colleague, "Screenshot of the error", multipart("mixed",
			textPart("This is what the portal shows.\n"),
			att("screenshot.png", "image/png", pngSized(r, 25000)),
		), []string{"screenshot.png"}},
		{"scan-three-pages", scanner, "Scanned document (3 pages)", multipart("mixed",
			textPart("Scanned by MFP 3rd floor.\n"),
			att("scan_0002.jpg", "image/jpeg", jpegSized(r, 30000)),
			att("scan_0003.jpg", "image/jpeg", jpegSized(r, 31000)),
			att("scan_0004.jpg", "image/jpeg", jpegSized(r, 29000)),
		), []string{"scan_0002.jpg", "scan_0003.jpg", "scan_0004.jpg"}},
		{"rfc2231-name", accounting, "Rechnung März", multipart("mixed",
			textPart("Anbei die Rechnung für März.\n"),
			attachmentPart(Attachment{Name: "Rechnung März.pdf", ContentType: "application/pdf", Content: pdf("Rechnung Maerz", 12000)}, name2231),
		), []string{"Rechnung März.pdf"}},
		{"rfc2047-name", accounting, "Übersicht Q1", multipart("mixed",
			textPart("Die Übersicht für das erste Quartal.\n"),
			attachmentPart(Attachment{Name: "Übersicht Q1.csv", ContentType: "text/csv", Content: csvTable(r, 4000)}, name2047),
		), []string{"Übersicht Q1.csv"}},
		{"same-name-march", reports, "Monthly report March", multipart("mixed",
			textPart("Monthly report for March.\n"),
			att("report.pdf", "application/pdf", pdf("Monthly report March", 30000)),
		), []string{"report.pdf"}},
		{"same-name-april", reports, "Monthly report April", multipart("mixed",
			textPart("Monthly report for April.\n"),
			att("report.pdf", "application/pdf", pdf("Monthly report April", 31000)),
		), []string{"report.pdf"}},
		{"inline-signature", vendor, "Order confirmation 55120", multipart("mixed",
			multipart("related",
				multipart("alternative",
					textPart("Thank you for your order 55120.\n\nAcme Sales\n"),
					htmlPart(`<p>Thank you for your order 55120.</p><p>Acme Sales<br><img src="cid:logo@acme.example" alt="Acme"></p>`),
				),
				inlineImage(pngSized(r, 3000), "logo@acme.example"),
			),
			att("order-confirmation-55120.pdf", "application/pdf", pdf("Order confirmation 55120", 9000)),
		), []string{"order-confirmation-55120.pdf"}},
		{"name-only", vendor, "Delivery note 88213", multipart("mixed",
			textPart("Delivery note attached.\n"),
			attachmentPart(Attachment{Name: "delivery-note-88213.pdf", ContentType: "application/pdf", Content: pdf("Delivery note 88213", 7000)}, nameTypeOnly),
		), []string{"delivery-note-88213.pdf"}},
		{"plain", colleague, "Lunch on Friday?", textPart("Hi all,\n\nshall we go for lunch on Friday at 12:30?\n\nJana\n"), nil},
		{"newsletter-html", reports, "Contoso news, March edition", multipart("alternative",
			textPart("Contoso news, March edition. Read it online.\n"),
			htmlPart("<h1>Contoso news</h1><p>March edition.</p>"),
		), nil},
		{"forwarded-rfc822", colleague, "Fwd: Invoice 7731", multipart("mixed",
			textPart("Forwarding the invoice from Acme, see the attached mail.\n"),
			entity{header: header{
				{"Content-Type", "message/rfc822"},
				{"Content-Disposition", `attachment; filename="Invoice 7731.eml"`},
			}, body: forwarded},
		), []string{"Invoice 7731.eml"}},
		{"notes-quoted-printable", colleague, "Meeting notes", multipart("mixed",
			textPart("Notes from today's meeting attached.\n"),
			quotedPrintableAttachment("notes.txt", "Meeting notes 2025-03-12\n\n- Budget: approved (Müller)\n- Next meeting: 2025-03-26\n"),
		), []string{"notes.txt"}},
		{"budget-xlsx", accounting, "Budget 2025", multipart("mixed",
			textPart("Budget 2025 zur Freigabe.\n"),
			att("Budget 2025.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", zipArchive(r, "xl/workbook.xml", 5000)),
		), []string{"Budget 2025.xlsx"}},
		{"archive-zip", colleague, "Photos from the site visit", multipart("mixed",
			textPart("Zipped, the mail server refused them one by one.\n"),
			att("site-visit.zip", "application/zip", zipArchive(r, "photos/IMG_0001.jpg", 60000)),
		), []string{"site-visit.zip"}},
		{"calendar-invite", colleague, "Invitation: Quarterly review", multipart("mixed",
			textPart("Quarterly review, 2025-04-02 10:00.\n"),
			att("invite.ics", "text/calendar; method=REQUEST", []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailtask//demo//EN\r\nBEGIN:VEVENT\r\nUID:review-2025q1@contoso.example\r\nDTSTART:20250402T080000Z\r\nSUMMARY:Quarterly review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")),
		), []string{"invite.ics"}},
		{"invoice-batch", vendor, "Invoices 2025-03 (3)", multipart("mixed",
			textPart("Three invoices for March.\n"),
			att("INV-2025-0501.pdf", "application/pdf", pdf("Invoice INV-2025-0501", 8000)),
			att("INV-2025-0502.pdf", "application/pdf", pdf("Invoice INV-2025-0502", 8500)),
			att("INV-2025-0503.pdf", "application/pdf", pdf("Invoice INV-2025-0503", 9000)),
		), []string{"INV-2025-0501.pdf", "INV-2025-0502.pdf", "INV-2025-0503.pdf"}},
		{"bank-statement", accounting, "Kontoauszug März", multipart("mixed",
			textPart("Kontoauszug anbei.\n"),
			att("Kontoauszug 2025-03 (Kopie).pdf", "application/pdf", pdf("Kontoauszug 2025-03", 11000)),
		), []string{"Kontoauszug 2025-03 (Kopie).pdf"}},
		{"iphone-inline-photo", colleague, "Photo of the delivery", multipart("mixed",
			textPart("The pallet arrived damaged, see photo.\n"),
			attachmentPart(Attachment{Name: "IMG_2041.JPG", ContentType: "image/jpeg", Content: jpegSized(r, 50000), Inline: true}, namePlain),
		), []string{"IMG_2041.JPG"}},
		{"malformed-scanner", scanner, "Scanned document (truncated)", truncatedScan(pdf("Scan 20250314", 6000)), []string{"scan_20250314.pdf"}},
	}

	to := mail.Address{Name: "Eingang Rechnungen", Address: "rechnungen@contoso.example"}
	start := time.Date(2025, 3, 3, 8, 0, 0, 0, time.FixedZone("", 3600))
	fixtures := make([]Fixture, len(demos))
	for i, d := range demos {
		env := envelope{
			from: d.from, to: to, subject: d.subject,
			date: start.Add(time.Duration(i) * 97 * time.Minute),
			id:   fmt.Sprintf("demo-%02d.%s@mailtask.example", i+1, d.name),
		}
		fixtures[i] = Fixture{Name: d.name, Raw: env.message(d.body), Files: d.files}
	}
	return fixtures
}

// truncatedScan is what a scanner sends when its upload dies: the base64
// stops mid-quantum and the closing boundary never comes.
func truncatedScan(pdf []byte) entity {
	full := multipart("mixed",
		textPart("Scanned by MFP 3rd floor.\n"),
		attachmentPart(Attachment{Name: "scan_20250314.pdf", ContentType: "application/pdf", Content: pdf}, namePlain),
	)
	cut := bytes.LastIndex(full.body, []byte("\r\n--"))
	body := bytes.TrimRight(full.body[:cut*3/4], "\r\n")
	if line := len(body) - bytes.LastIndexByte(body, '\n') - 1; line%4 == 0 {
		body = body[:len(body)-1]
	}
	full.body = body
	return full
}

// The size mix of Generate, in per cent of n; the rest have no attachment.
const (
	mixAttached = 45 // 1–3 attachments of 5–300 KiB
	mixLarge    = 10 // one attachment of 1–5 MiB
	mixOdd      = 5  // deep nesting, many parts, non-ASCII names, inline only
)

// Generate builds n messages from seed: 40% without attachment, 45% with
// 1–3 attachments of 5–300 KiB, 10% with one of 1–5 MiB and 5% odd shapes
// (deep nesting, many small parts, non-ASCII names, inline-only). The mix is
// exact up to rounding and shuffled. Attachment sizes are multiplied by
// scale (1.0 as specified, 0.01 for fast tests); file formats keep their
// headers, so tiny ones are a little larger than asked. Names start with
// "none-", "attach-", "large-" or "odd-".
func Generate(seed uint64, n int, scale float64) []Fixture {
	r := rand.New(rand.NewPCG(seed, 0x6d61696c7461736b))
	kinds := make([]string, n)
	i := 0
	for _, k := range []struct {
		kind string
		pct  int
	}{{"attach", mixAttached}, {"large", mixLarge}, {"odd", mixOdd}} {
		for range (n*k.pct + 50) / 100 {
			if i < n {
				kinds[i] = k.kind
				i++
			}
		}
	}
	for ; i < n; i++ {
		kinds[i] = "none"
	}
	r.Shuffle(n, func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })

	const kib, mib = 1024, 1024 * 1024
	size := func(lo, hi int) int { return max(1, int(float64(lo+r.IntN(hi-lo+1))*scale)) }
	start := time.Date(2025, 1, 6, 7, 0, 0, 0, time.UTC)
	fixtures := make([]Fixture, n)
	odd := 0
	for i, kind := range kinds {
		var (
			body  entity
			files []string
			name  = fmt.Sprintf("%s-%04d", kind, i)
		)
		switch kind {
		case "none":
			body = textPart(sentences(r, 1+r.IntN(6)))
		case "attach":
			parts := []entity{textPart(sentences(r, 2))}
			for j := range 1 + r.IntN(3) {
				a := randomAttachment(r, fmt.Sprintf("%04d-%d", i, j+1), size(5*kib, 300*kib))
				parts = append(parts, attachmentPart(a, namePlain))
				files = append(files, a.Name)
			}
			body = multipart("mixed", parts...)
		case "large":
			a := randomAttachment(r, fmt.Sprintf("%04d-1", i), size(1*mib, 5*mib))
			body = multipart("mixed", textPart(sentences(r, 2)), attachmentPart(a, namePlain))
			files = []string{a.Name}
		case "odd":
			var shape string
			shape, body, files = oddShape(r, odd, i, size(5*kib, 50*kib))
			name = fmt.Sprintf("odd-%s-%04d", shape, i)
			odd++
		}
		env := envelope{
			from:    mail.Address{Name: "Generated Sender", Address: fmt.Sprintf("sender%d@example.test", r.IntN(20))},
			to:      mail.Address{Address: "inbox@example.test"},
			subject: fmt.Sprintf("Generated message %d (%s)", i, kind),
			date:    start.Add(time.Duration(i) * 13 * time.Minute),
			id:      fmt.Sprintf("gen-%d-%d@mailtask.example", seed, i),
		}
		fixtures[i] = Fixture{Name: name, Raw: env.message(body), Files: files}
	}
	return fixtures
}

// oddShape builds the k-th odd message, cycling through the shapes.
func oddShape(r *rand.Rand, k, i, size int) (shape string, body entity, files []string) {
	switch k % 4 {
	case 0:
		a := Attachment{Name: fmt.Sprintf("nested-%04d.pdf", i), ContentType: "application/pdf", Content: pdfSized(r, "Nested", size)}
		body = multipart("mixed", textPart("Deep inside.\n"), attachmentPart(a, namePlain))
		for range 11 {
			body = multipart("mixed", textPart("One level up.\n"), body)
		}
		return "nested", body, []string{a.Name}
	case 1:
		parts := []entity{textPart("Many small parts.\n")}
		for j := range 40 {
			a := Attachment{Name: fmt.Sprintf("part-%02d.txt", j+1), ContentType: "text/plain", Content: []byte(sentences(r, 1))}
			parts = append(parts, attachmentPart(a, namePlain))
			files = append(files, a.Name)
		}
		return "parts", multipart("mixed", parts...), files
	case 2:
		named := []struct {
			a     Attachment
			style nameStyle
		}{
			{Attachment{Name: "Lieferschein Müller – Nr. 5.pdf", ContentType: "application/pdf", Content: pdfSized(r, "Lieferschein", size)}, name2231},
			{Attachment{Name: "見積書 2025.pdf", ContentType: "application/pdf", Content: pdfSized(r, "Mitsumorisho", size)}, name2047},
			{Attachment{Name: "Ελληνικά.csv", ContentType: "text/csv", Content: csvTable(r, size)}, nameTypeOnly},
		}
		parts := []entity{textPart("Non-ASCII file names.\n")}
		for _, n := range named {
			parts = append(parts, attachmentPart(n.a, n.style))
			files = append(files, n.a.Name)
		}
		return "names", multipart("mixed", parts...), files
	default:
		return "inline", multipart("related",
			htmlPart(`<p>Only a picture: <img src="cid:chart@example.test"></p>`),
			inlineImage(pngSized(r, size), "chart@example.test"),
		), nil
	}
}

// randomAttachment is a PDF, CSV, PNG, JPEG or ZIP of about size bytes.
func randomAttachment(r *rand.Rand, id string, size int) Attachment {
	switch r.IntN(5) {
	case 0:
		return Attachment{Name: "invoice-" + id + ".pdf", ContentType: "application/pdf", Content: pdfSized(r, "Invoice "+id, size)}
	case 1:
		return Attachment{Name: "report-" + id + ".csv", ContentType: "text/csv", Content: csvTable(r, size)}
	case 2:
		return Attachment{Name: "scan-" + id + ".png", ContentType: "image/png", Content: pngSized(r, size)}
	case 3:
		return Attachment{Name: "photo-" + id + ".jpg", ContentType: "image/jpeg", Content: jpegSized(r, size)}
	default:
		return Attachment{Name: "archive-" + id + ".zip", ContentType: "application/zip", Content: zipArchive(r, "data.bin", size)}
	}
}

// envelope is the top-level header of a generated message.
type envelope struct {
	from, to mail.Address
	subject  string
	date     time.Time
	id       string // Message-ID without <>
}

func (env envelope) message(body entity) []byte {
	h := header{
		{"Date", env.date.Format(time.RFC1123Z)},
		{"From", env.from.String()},
		{"To", env.to.String()},
		{"Subject", mime.QEncoding.Encode("UTF-8", env.subject)},
		{"Message-ID", "<" + env.id + ">"},
		{"MIME-Version", "1.0"},
	}
	return entity{header: append(h, body.header...), body: body.body}.bytes()
}

// header is an ordered list of header fields. A field without a key is
// written as a raw line, for malformed headers.
type header []field

type field struct{ key, value string }

// entity is one MIME entity with its body already transfer-encoded.
type entity struct {
	header header
	body   []byte
}

func (e entity) bytes() []byte {
	var b bytes.Buffer
	for _, f := range e.header {
		if f.key != "" {
			b.WriteString(f.key + ": ")
		}
		b.WriteString(f.value + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(e.body)
	return b.Bytes()
}

// multipart joins parts under a boundary derived from their bytes, so it
// is deterministic and differs between nesting levels.
func multipart(subtype string, parts ...entity) entity {
	raw := make([][]byte, len(parts))
	h := sha256.New()
	for i, p := range parts {
		raw[i] = p.bytes()
		h.Write(raw[i])
	}
	boundary := "=_mt_" + hex.EncodeToString(h.Sum(nil)[:12])
	var b bytes.Buffer
	for _, p := range raw {
		b.WriteString("--" + boundary + "\r\n")
		b.Write(p)
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return entity{header: header{{"Content-Type", `multipart/` + subtype + `; boundary="` + boundary + `"`}}, body: b.Bytes()}
}

func textPart(text string) entity { return textEntity("text/plain", text) }

func htmlPart(html string) entity {
	return textEntity("text/html", "<!DOCTYPE html>\n<html><body>"+html+"</body></html>\n")
}

func textEntity(ctype, text string) entity {
	if isASCII(text) {
		return entity{header: header{{"Content-Type", ctype + "; charset=us-ascii"}, {"Content-Transfer-Encoding", "7bit"}}, body: crlf(text)}
	}
	return entity{header: header{{"Content-Type", ctype + "; charset=utf-8"}, {"Content-Transfer-Encoding", "quoted-printable"}}, body: quotedPrintable(text)}
}

func quotedPrintableAttachment(name, text string) entity {
	return entity{header: header{
		{"Content-Type", `text/plain; charset=utf-8; name="` + name + `"`},
		{"Content-Disposition", `attachment; filename="` + name + `"`},
		{"Content-Transfer-Encoding", "quoted-printable"},
	}, body: quotedPrintable(text)}
}

// inlineImage is a PNG referenced by cid: and carrying no file name, as
// mail clients embed signature logos: not a file to save.
func inlineImage(png []byte, cid string) entity {
	return entity{header: header{
		{"Content-Type", "image/png"},
		{"Content-Disposition", "inline"},
		{"Content-ID", "<" + cid + ">"},
		{"Content-Transfer-Encoding", "base64"},
	}, body: base64Lines(png)}
}

// nameStyle is how an attachment's file name is put into its header.
type nameStyle int

const (
	namePlain    nameStyle = iota // name= and filename= quoted; RFC 2231 filename*= when not printable ASCII
	name2231                      // filename*=UTF-8''…, as Outlook and Thunderbird send non-ASCII names
	name2047                      // name= and filename= as RFC 2047 encoded words, which many clients send though RFC 2047 forbids it
	nameTypeOnly                  // only Content-Type name=, no Content-Disposition; RFC 2047 when not printable ASCII
)

func attachmentPart(a Attachment, style nameStyle) entity {
	ctype := a.ContentType
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	disp := "attachment"
	if a.Inline {
		disp = "inline"
	}
	quoted, plain := quoteParam(a.Name)
	encoded := `"` + mime.BEncoding.Encode("UTF-8", a.Name) + `"`
	var h header
	switch {
	case style == namePlain && plain:
		h = header{{"Content-Type", ctype + "; name=" + quoted}, {"Content-Disposition", disp + "; filename=" + quoted}}
	case style == namePlain || style == name2231:
		h = header{{"Content-Type", ctype}, {"Content-Disposition", disp + "; filename*=UTF-8''" + percentEncode(a.Name)}}
	case style == name2047:
		h = header{{"Content-Type", ctype + "; name=" + encoded}, {"Content-Disposition", disp + "; filename=" + encoded}}
	case plain:
		h = header{{"Content-Type", ctype + "; name=" + quoted}}
	default:
		h = header{{"Content-Type", ctype + "; name=" + encoded}}
	}
	if a.Inline {
		sum := sha256.Sum256([]byte(a.Name))
		h = append(h, field{"Content-ID", "<" + hex.EncodeToString(sum[:8]) + "@example.test>"})
	}
	h = append(h, field{"Content-Transfer-Encoding", "base64"})
	return entity{header: h, body: base64Lines(a.Content)}
}

// quoteParam returns s as an RFC 2045 quoted-string, and whether s can be
// one: printable ASCII only.
func quoteParam(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return "", false
		}
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`, true
}

// percentEncode encodes s as an RFC 2231 extended value.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// base64Lines encodes b in lines of 76 characters, each ending in CRLF.
func base64Lines(b []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	out := make([]byte, 0, len(enc)+len(enc)/76*2+2)
	for len(enc) > 76 {
		out = append(out, enc[:76]...)
		out = append(out, "\r\n"...)
		enc = enc[76:]
	}
	return append(append(out, enc...), "\r\n"...)
}

func quotedPrintable(text string) []byte {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(text))
	w.Close()
	return b.Bytes()
}

func crlf(text string) []byte {
	return []byte(strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n"))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

var words = strings.Fields(`invoice order delivery payment report account please attached regards
	meeting schedule shipment quarter budget review contract update customer supplier total due
	reference number pallet warehouse approval signature thanks week month office`)

// sentences is n lines of filler text.
func sentences(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		k := 4 + r.IntN(8)
		for j := range k {
			w := words[r.IntN(len(words))]
			if j == 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			if j < k-1 {
				b.WriteByte(' ')
			}
		}
		b.WriteString(".\n")
	}
	return b.String()
}

// randomBytes draws n bytes from a ChaCha8 stream seeded by r: much faster
// than r itself for megabytes.
func randomBytes(r *rand.Rand, n int) []byte {
	var seed [32]byte
	for i := 0; i < len(seed); i += 8 {
		binary.LittleEndian.PutUint64(seed[i:], r.Uint64())
	}
	b := make([]byte, n)
	rand.NewChaCha8(seed).Read(b)
	return b
}

// pdfSized is a valid one-page PDF showing title, padded to a little under
// size bytes with an unreferenced stream of random bytes.
func pdfSized(r *rand.Rand, title string, size int) []byte {
	const fillerObject = 80 // what the filler costs besides itself: object, xref entry, offsets
	doc := pdfDoc(title, nil)
	if pad := size - len(doc) - fillerObject; pad > 0 {
		doc = pdfDoc(title, randomBytes(r, pad))
	}
	return doc
}

func pdfDoc(title string, filler []byte) []byte {
	text := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(title)
	content := "BT /F1 18 Tf 56 770 Td (" + text + ") Tj ET"
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	if filler != nil {
		objects = append(objects, fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(filler), filler))
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objects))
	for i, obj := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, obj)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

func noise(r *rand.Rand, w, h int) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := r.Uint32()
			img.SetNRGBA(x, y, color.NRGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 0xff})
		}
	}
	return img
}

// pngSized is a valid 16×16 PNG padded to about size bytes with a private
// ancillary chunk, which decoders skip.
func pngSized(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	png.Encode(&b, noise(r, 16, 16))
	img := b.Bytes()
	const chunkOverhead, iend = 12, 12
	pad := size - len(img) - chunkOverhead
	if pad <= 0 {
		return img
	}
	chunk := make([]byte, 0, pad+chunkOverhead)
	chunk = binary.BigEndian.AppendUint32(chunk, uint32(pad))
	chunk = append(chunk, "fiLl"...)
	chunk = append(chunk, randomBytes(r, pad)...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	end := len(img) - iend
	return append(append(append([]byte(nil), img[:end]...), chunk...), img[end:]...)
}

// jpegSized is a valid 16×16 JPEG padded to about size bytes with comment
// segments after the start-of-image marker.
func jpegSized(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	jpeg.Encode(&b, noise(r, 16, 16), &jpeg.Options{Quality: 80})
	img := b.Bytes()
	out := append([]byte(nil), img[:2]...) // SOI
	for pad := size - len(img); pad > 4; {
		n := min(pad-4, 65533)
		out = append(out, 0xff, 0xfe)
		out = binary.BigEndian.AppendUint16(out, uint16(n+2))
		out = append(out, randomBytes(r, n)...)
		pad -= n + 4
	}
	return append(out, img[2:]...)
}

// zipArchive is a valid ZIP holding one stored file of random bytes, about
// size bytes in all.
func zipArchive(r *rand.Rand, name string, size int) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)})
	w.Write(randomBytes(r, max(0, size-2*len(name)-100)))
	zw.Close()
	return b.Bytes()
}

// csvTable is a semicolon-separated invoice list of about size bytes.
func csvTable(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	b.WriteString("date;customer;invoice;amount\r\n")
	for {
		row := fmt.Sprintf("2025-%02d-%02d;C%05d;INV-%06d;%d.%02d\r\n", 1+r.IntN(12), 1+r.IntN(28), r.IntN(100000), r.IntN(1000000), r.IntN(100000), r.IntN(100))
		if b.Len()+len(row) > size {
			return b.Bytes()
		}
		b.WriteString(row)
	}
}

// PDFMessage is a message whose one attachment is a small PDF named name,
// different for every name: one file per message, for tests that count
// what arrived.
func PDFMessage(name string) []byte {
	return NewMessage(name, Attachment{Name: name, ContentType: "application/pdf", Content: []byte("%PDF-1.4\n" + name + "\n%%EOF\n")})
}
