package testmail

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"strings"
	"time"

	"mailtask/internal/demo"
	"mailtask/internal/mailgen"
)

// Fixture is one generated message and what extracting it should give;
// Attachment, one file of a message.
type (
	Fixture    = mailgen.Fixture
	Attachment = mailgen.Attachment
)

// DemoCorpus returns the messages `mailtask demo` preloads
// (demo.Corpus): two dozen realistic mails that tests use as well.
func DemoCorpus() []Fixture { return demo.Corpus() }

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
	env := mailgen.Envelope{
		From:    mail.Address{Name: "Sender", Address: "sender@example.test"},
		To:      mail.Address{Address: "inbox@example.test"},
		Subject: subject,
		Date:    time.Date(2025, 3, 14, 9, 30, 0, 0, time.FixedZone("", 3600)),
		ID:      hex.EncodeToString(h.Sum(nil)[:12]) + "@example.test",
	}
	body := mailgen.TextPart("Please find the attached files.\n")
	if len(attachments) > 0 {
		parts := []mailgen.Entity{body}
		for _, a := range attachments {
			parts = append(parts, mailgen.AttachmentPart(a, mailgen.NamePlain))
		}
		body = mailgen.Multipart("mixed", parts...)
	}
	return env.Message(body)
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
			body  mailgen.Entity
			files []string
			name  = fmt.Sprintf("%s-%04d", kind, i)
		)
		switch kind {
		case "none":
			body = mailgen.TextPart(sentences(r, 1+r.IntN(6)))
		case "attach":
			parts := []mailgen.Entity{mailgen.TextPart(sentences(r, 2))}
			for j := range 1 + r.IntN(3) {
				a := randomAttachment(r, fmt.Sprintf("%04d-%d", i, j+1), size(5*kib, 300*kib))
				parts = append(parts, mailgen.AttachmentPart(a, mailgen.NamePlain))
				files = append(files, a.Name)
			}
			body = mailgen.Multipart("mixed", parts...)
		case "large":
			a := randomAttachment(r, fmt.Sprintf("%04d-1", i), size(1*mib, 5*mib))
			body = mailgen.Multipart("mixed", mailgen.TextPart(sentences(r, 2)), mailgen.AttachmentPart(a, mailgen.NamePlain))
			files = []string{a.Name}
		case "odd":
			var shape string
			shape, body, files = oddShape(r, odd, i, size(5*kib, 50*kib))
			name = fmt.Sprintf("odd-%s-%04d", shape, i)
			odd++
		}
		env := mailgen.Envelope{
			From:    mail.Address{Name: "Generated Sender", Address: fmt.Sprintf("sender%d@example.test", r.IntN(20))},
			To:      mail.Address{Address: "inbox@example.test"},
			Subject: fmt.Sprintf("Generated message %d (%s)", i, kind),
			Date:    start.Add(time.Duration(i) * 13 * time.Minute),
			ID:      fmt.Sprintf("gen-%d-%d@mailtask.example", seed, i),
		}
		fixtures[i] = Fixture{Name: name, Raw: env.Message(body), Files: files}
	}
	return fixtures
}

// oddShape builds the k-th odd message, cycling through the shapes.
func oddShape(r *rand.Rand, k, i, size int) (shape string, body mailgen.Entity, files []string) {
	switch k % 4 {
	case 0:
		a := Attachment{Name: fmt.Sprintf("nested-%04d.pdf", i), ContentType: "application/pdf", Content: mailgen.PDF(r, "Nested", size)}
		body = mailgen.Multipart("mixed", mailgen.TextPart("Deep inside.\n"), mailgen.AttachmentPart(a, mailgen.NamePlain))
		for range 11 {
			body = mailgen.Multipart("mixed", mailgen.TextPart("One level up.\n"), body)
		}
		return "nested", body, []string{a.Name}
	case 1:
		parts := []mailgen.Entity{mailgen.TextPart("Many small parts.\n")}
		for j := range 40 {
			a := Attachment{Name: fmt.Sprintf("part-%02d.txt", j+1), ContentType: "text/plain", Content: []byte(sentences(r, 1))}
			parts = append(parts, mailgen.AttachmentPart(a, mailgen.NamePlain))
			files = append(files, a.Name)
		}
		return "parts", mailgen.Multipart("mixed", parts...), files
	case 2:
		named := []struct {
			a     Attachment
			style mailgen.NameStyle
		}{
			{Attachment{Name: "Lieferschein Müller – Nr. 5.pdf", ContentType: "application/pdf", Content: mailgen.PDF(r, "Lieferschein", size)}, mailgen.Name2231},
			{Attachment{Name: "見積書 2025.pdf", ContentType: "application/pdf", Content: mailgen.PDF(r, "Mitsumorisho", size)}, mailgen.Name2047},
			{Attachment{Name: "Ελληνικά.csv", ContentType: "text/csv", Content: mailgen.CSV(r, size)}, mailgen.NameTypeOnly},
		}
		parts := []mailgen.Entity{mailgen.TextPart("Non-ASCII file names.\n")}
		for _, n := range named {
			parts = append(parts, mailgen.AttachmentPart(n.a, n.style))
			files = append(files, n.a.Name)
		}
		return "names", mailgen.Multipart("mixed", parts...), files
	default:
		return "inline", mailgen.Multipart("related",
			mailgen.HTMLPart(`<p>Only a picture: <img src="cid:chart@example.test"></p>`),
			mailgen.InlineImage(mailgen.PNG(r, size), "chart@example.test"),
		), nil
	}
}

// randomAttachment is a PDF, CSV, PNG, JPEG or ZIP of about size bytes.
func randomAttachment(r *rand.Rand, id string, size int) Attachment {
	switch r.IntN(5) {
	case 0:
		return Attachment{Name: "invoice-" + id + ".pdf", ContentType: "application/pdf", Content: mailgen.PDF(r, "Invoice "+id, size)}
	case 1:
		return Attachment{Name: "report-" + id + ".csv", ContentType: "text/csv", Content: mailgen.CSV(r, size)}
	case 2:
		return Attachment{Name: "scan-" + id + ".png", ContentType: "image/png", Content: mailgen.PNG(r, size)}
	case 3:
		return Attachment{Name: "photo-" + id + ".jpg", ContentType: "image/jpeg", Content: mailgen.JPEG(r, size)}
	default:
		return Attachment{Name: "archive-" + id + ".zip", ContentType: "application/zip", Content: mailgen.ZIP(r, "data.bin", size)}
	}
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

// PDFMessage is a message whose one attachment is a small PDF named name,
// different for every name: one file per message, for tests that count
// what arrived.
func PDFMessage(name string) []byte {
	return NewMessage(name, Attachment{Name: name, ContentType: "application/pdf", Content: []byte("%PDF-1.4\n" + name + "\n%%EOF\n")})
}
