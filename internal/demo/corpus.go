package demo

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"time"

	"mailtask/internal/mailgen"
)

// Corpus returns the messages `mailtask demo` preloads: two dozen
// realistic mails of a shared accounting mailbox, covering the shapes an
// extractor must get right (encoded names, duplicate names, inline images,
// name= only, nested messages, a malformed scanner mail).
func Corpus() []mailgen.Fixture {
	r := rand.New(rand.NewPCG(2025, 314))
	var (
		accounting = mail.Address{Name: "Buchhaltung Müller GmbH", Address: "buchhaltung@mueller.example"}
		vendor     = mail.Address{Name: "Acme Billing", Address: "billing@acme.example"}
		reports    = mail.Address{Name: "BI Reports", Address: "noreply-reports@contoso.example"}
		scanner    = mail.Address{Name: "MFP 3rd floor", Address: "scanner@contoso.example"}
		colleague  = mail.Address{Name: "Jana Nowak", Address: "jana.nowak@contoso.example"}
	)
	pdf := func(title string, size int) []byte { return mailgen.PDF(r, title, size) }
	att := func(name, ctype string, content []byte) mailgen.Entity {
		return mailgen.AttachmentPart(mailgen.Attachment{Name: name, ContentType: ctype, Content: content}, mailgen.NamePlain)
	}

	forwarded := mailgen.Envelope{
		From: vendor, To: mail.Address{Address: "jana.nowak@contoso.example"},
		Subject: "Invoice 7731", Date: time.Date(2025, 2, 27, 16, 5, 0, 0, time.UTC), ID: "inv-7731@acme.example",
	}.Message(mailgen.Multipart("mixed",
		mailgen.TextPart("Dear customer,\n\nplease find invoice 7731 attached.\n"),
		att("invoice-7731.pdf", "application/pdf", pdf("Invoice 7731", 6000)),
	))

	demos := []struct {
		name    string
		from    mail.Address
		subject string
		body    mailgen.Entity
		files   []string
	}{
		{"invoice-pdf", vendor, "Invoice INV-2025-0412", mailgen.Multipart("mixed",
			mailgen.TextPart("Dear customer,\n\nattached is invoice INV-2025-0412, due 2025-04-13.\n\nAcme Billing\n"),
			att("INV-2025-0412.pdf", "application/pdf", pdf("Invoice INV-2025-0412", 14000)),
		), []string{"INV-2025-0412.pdf"}},
		{"invoice-pdf-de", accounting, "Rechnung 2025-118", mailgen.Multipart("mixed",
			mailgen.TextPart("Sehr geehrte Damen und Herren,\n\nanbei unsere Rechnung 2025-118.\n\nMit freundlichen Grüßen\nBuchhaltung\n"),
			att("rechnung-2025-118.pdf", "application/pdf", pdf("Rechnung 2025-118", 22000)),
		), []string{"rechnung-2025-118.pdf"}},
		{"report-csv", reports, "Weekly sales report (week 11)", mailgen.Multipart("mixed",
			mailgen.TextPart("The weekly sales report is attached.\n"),
			att("sales-week-11.csv", "text/csv", mailgen.CSV(r, 9000)),
		), []string{"sales-week-11.csv"}},
		{"report-csv-windows-1252", accounting, "Lagerbestand März", mailgen.Multipart("mixed",
			mailgen.TextPart("Anbei der Lagerbestand.\n"),
			att("lagerbestand.csv", "text/csv; charset=windows-1252", []byte("Artikel;Menge;Lager\r\nSchrauben M4;1200;S\xfcd\r\nD\xfcbel 8 mm;350;Nord\r\n")),
		), []string{"lagerbestand.csv"}},
		{"scan-jpeg", scanner, "Scanned document", mailgen.Multipart("mixed",
			mailgen.TextPart("Scanned by MFP 3rd floor.\n"),
			att("scan_0001.jpg", "image/jpeg", mailgen.JPEG(r, 40000)),
		), []string{"scan_0001.jpg"}},
		{"scan-png", colleague, "Screenshot of the error", mailgen.Multipart("mixed",
			mailgen.TextPart("This is what the portal shows.\n"),
			att("screenshot.png", "image/png", mailgen.PNG(r, 25000)),
		), []string{"screenshot.png"}},
		{"scan-three-pages", scanner, "Scanned document (3 pages)", mailgen.Multipart("mixed",
			mailgen.TextPart("Scanned by MFP 3rd floor.\n"),
			att("scan_0002.jpg", "image/jpeg", mailgen.JPEG(r, 30000)),
			att("scan_0003.jpg", "image/jpeg", mailgen.JPEG(r, 31000)),
			att("scan_0004.jpg", "image/jpeg", mailgen.JPEG(r, 29000)),
		), []string{"scan_0002.jpg", "scan_0003.jpg", "scan_0004.jpg"}},
		{"rfc2231-name", accounting, "Rechnung März", mailgen.Multipart("mixed",
			mailgen.TextPart("Anbei die Rechnung für März.\n"),
			mailgen.AttachmentPart(mailgen.Attachment{Name: "Rechnung März.pdf", ContentType: "application/pdf", Content: pdf("Rechnung Maerz", 12000)}, mailgen.Name2231),
		), []string{"Rechnung März.pdf"}},
		{"rfc2047-name", accounting, "Übersicht Q1", mailgen.Multipart("mixed",
			mailgen.TextPart("Die Übersicht für das erste Quartal.\n"),
			mailgen.AttachmentPart(mailgen.Attachment{Name: "Übersicht Q1.csv", ContentType: "text/csv", Content: mailgen.CSV(r, 4000)}, mailgen.Name2047),
		), []string{"Übersicht Q1.csv"}},
		{"same-name-march", reports, "Monthly report March", mailgen.Multipart("mixed",
			mailgen.TextPart("Monthly report for March.\n"),
			att("report.pdf", "application/pdf", pdf("Monthly report March", 30000)),
		), []string{"report.pdf"}},
		{"same-name-april", reports, "Monthly report April", mailgen.Multipart("mixed",
			mailgen.TextPart("Monthly report for April.\n"),
			att("report.pdf", "application/pdf", pdf("Monthly report April", 31000)),
		), []string{"report.pdf"}},
		{"inline-signature", vendor, "Order confirmation 55120", mailgen.Multipart("mixed",
			mailgen.Multipart("related",
				mailgen.Multipart("alternative",
					mailgen.TextPart("Thank you for your order 55120.\n\nAcme Sales\n"),
					mailgen.HTMLPart(`<p>Thank you for your order 55120.</p><p>Acme Sales<br><img src="cid:logo@acme.example" alt="Acme"></p>`),
				),
				mailgen.InlineImage(mailgen.PNG(r, 3000), "logo@acme.example"),
			),
			att("order-confirmation-55120.pdf", "application/pdf", pdf("Order confirmation 55120", 9000)),
		), []string{"order-confirmation-55120.pdf"}},
		{"name-only", vendor, "Delivery note 88213", mailgen.Multipart("mixed",
			mailgen.TextPart("Delivery note attached.\n"),
			mailgen.AttachmentPart(mailgen.Attachment{Name: "delivery-note-88213.pdf", ContentType: "application/pdf", Content: pdf("Delivery note 88213", 7000)}, mailgen.NameTypeOnly),
		), []string{"delivery-note-88213.pdf"}},
		{"plain", colleague, "Lunch on Friday?", mailgen.TextPart("Hi all,\n\nshall we go for lunch on Friday at 12:30?\n\nJana\n"), nil},
		{"newsletter-html", reports, "Contoso news, March edition", mailgen.Multipart("alternative",
			mailgen.TextPart("Contoso news, March edition. Read it online.\n"),
			mailgen.HTMLPart("<h1>Contoso news</h1><p>March edition.</p>"),
		), nil},
		{"forwarded-rfc822", colleague, "Fwd: Invoice 7731", mailgen.Multipart("mixed",
			mailgen.TextPart("Forwarding the invoice from Acme, see the attached mail.\n"),
			mailgen.Entity{Header: mailgen.Header{
				{Key: "Content-Type", Value: "message/rfc822"},
				{Key: "Content-Disposition", Value: `attachment; filename="Invoice 7731.eml"`},
			}, Body: forwarded},
		), []string{"Invoice 7731.eml"}},
		{"notes-quoted-printable", colleague, "Meeting notes", mailgen.Multipart("mixed",
			mailgen.TextPart("Notes from today's meeting attached.\n"),
			mailgen.QuotedPrintableAttachment("notes.txt", "Meeting notes 2025-03-12\n\n- Budget: approved (Müller)\n- Next meeting: 2025-03-26\n"),
		), []string{"notes.txt"}},
		{"budget-xlsx", accounting, "Budget 2025", mailgen.Multipart("mixed",
			mailgen.TextPart("Budget 2025 zur Freigabe.\n"),
			att("Budget 2025.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", mailgen.ZIP(r, "xl/workbook.xml", 5000)),
		), []string{"Budget 2025.xlsx"}},
		{"archive-zip", colleague, "Photos from the site visit", mailgen.Multipart("mixed",
			mailgen.TextPart("Zipped, the mail server refused them one by one.\n"),
			att("site-visit.zip", "application/zip", mailgen.ZIP(r, "photos/IMG_0001.jpg", 60000)),
		), []string{"site-visit.zip"}},
		{"calendar-invite", colleague, "Invitation: Quarterly review", mailgen.Multipart("mixed",
			mailgen.TextPart("Quarterly review, 2025-04-02 10:00.\n"),
			att("invite.ics", "text/calendar; method=REQUEST", []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mailtask//demo//EN\r\nBEGIN:VEVENT\r\nUID:review-2025q1@contoso.example\r\nDTSTART:20250402T080000Z\r\nSUMMARY:Quarterly review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")),
		), []string{"invite.ics"}},
		{"invoice-batch", vendor, "Invoices 2025-03 (3)", mailgen.Multipart("mixed",
			mailgen.TextPart("Three invoices for March.\n"),
			att("INV-2025-0501.pdf", "application/pdf", pdf("Invoice INV-2025-0501", 8000)),
			att("INV-2025-0502.pdf", "application/pdf", pdf("Invoice INV-2025-0502", 8500)),
			att("INV-2025-0503.pdf", "application/pdf", pdf("Invoice INV-2025-0503", 9000)),
		), []string{"INV-2025-0501.pdf", "INV-2025-0502.pdf", "INV-2025-0503.pdf"}},
		{"bank-statement", accounting, "Kontoauszug März", mailgen.Multipart("mixed",
			mailgen.TextPart("Kontoauszug anbei.\n"),
			att("Kontoauszug 2025-03 (Kopie).pdf", "application/pdf", pdf("Kontoauszug 2025-03", 11000)),
		), []string{"Kontoauszug 2025-03 (Kopie).pdf"}},
		{"iphone-inline-photo", colleague, "Photo of the delivery", mailgen.Multipart("mixed",
			mailgen.TextPart("The pallet arrived damaged, see photo.\n"),
			mailgen.AttachmentPart(mailgen.Attachment{Name: "IMG_2041.JPG", ContentType: "image/jpeg", Content: mailgen.JPEG(r, 50000), Inline: true}, mailgen.NamePlain),
		), []string{"IMG_2041.JPG"}},
		{"malformed-scanner", scanner, "Scanned document (truncated)", truncatedScan(pdf("Scan 20250314", 6000)), []string{"scan_20250314.pdf"}},
	}

	to := mail.Address{Name: "Eingang Rechnungen", Address: "rechnungen@contoso.example"}
	start := time.Date(2025, 3, 3, 8, 0, 0, 0, time.FixedZone("", 3600))
	fixtures := make([]mailgen.Fixture, len(demos))
	for i, d := range demos {
		env := mailgen.Envelope{
			From: d.from, To: to, Subject: d.subject,
			Date: start.Add(time.Duration(i) * 97 * time.Minute),
			ID:   fmt.Sprintf("demo-%02d.%s@mailtask.example", i+1, d.name),
		}
		fixtures[i] = mailgen.Fixture{Name: d.name, Raw: env.Message(d.body), Files: d.files}
	}
	return fixtures
}

// truncatedScan is what a scanner sends when its upload dies: the base64
// stops mid-quantum and the closing boundary never comes.
func truncatedScan(pdf []byte) mailgen.Entity {
	full := mailgen.Multipart("mixed",
		mailgen.TextPart("Scanned by MFP 3rd floor.\n"),
		mailgen.AttachmentPart(mailgen.Attachment{Name: "scan_20250314.pdf", ContentType: "application/pdf", Content: pdf}, mailgen.NamePlain),
	)
	cut := bytes.LastIndex(full.Body, []byte("\r\n--"))
	body := bytes.TrimRight(full.Body[:cut*3/4], "\r\n")
	if line := len(body) - bytes.LastIndexByte(body, '\n') - 1; line%4 == 0 {
		body = body[:len(body)-1]
	}
	full.Body = body
	return full
}
