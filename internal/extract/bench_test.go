package extract

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"mailtask/internal/testmail"
)

func BenchmarkParse(b *testing.B) {
	content, raw := largeMessage(1 << 20)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := Parse(bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		if len(m.Files) != 1 || !bytes.Equal(contentOf(b, m.Files[0]), content) {
			b.Fatal("attachment not recovered intact")
		}
	}
}

// BenchmarkParseAt parses a message with a 32 MB attachment where it lies
// and reads the attachment, as the pipeline does with a spooled message.
func BenchmarkParseAt(b *testing.B) {
	content, raw := largeMessage(32 << 20)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := ParseAt(bytes.NewReader(raw), int64(len(raw)))
		if err != nil {
			b.Fatal(err)
		}
		h1, h2 := sha256.New(), sha256.Sum256(content)
		if _, err := io.Copy(h1, m.Files[0].Open()); err != nil || !bytes.Equal(h1.Sum(nil), h2[:]) {
			b.Fatal("attachment not recovered intact", err)
		}
	}
}

// largeMessage is a message with one base64 attachment of about size bytes.
func largeMessage(size int) (content, raw []byte) {
	content = bytes.Repeat([]byte("%PDF-1.4 benchmark payload \x00\x01\x02\xff\n"), size/32)
	encoded := base64.StdEncoding.EncodeToString(content)
	var body strings.Builder
	for len(encoded) > 76 {
		body.WriteString(encoded[:76] + "\r\n")
		encoded = encoded[76:]
	}
	body.WriteString(encoded)
	raw = []byte(mixed(textBody, part(body.String(),
		"Content-Type: application/pdf", "Content-Disposition: attachment; filename=big.pdf",
		"Content-Transfer-Encoding: base64")))
	return content, raw
}

// BenchmarkParseGenerated parses the generated mix of business mail
// (testmail.Generate) one message after another; its MB/s is the parsing
// throughput the pipeline sees.
func BenchmarkParseGenerated(b *testing.B) {
	corpus := testmail.Generate(20250314, 200, 0.2)
	var total int64
	for _, fx := range corpus {
		total += int64(len(fx.Raw))
	}
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, fx := range corpus {
			if _, err := Parse(bytes.NewReader(fx.Raw)); err != nil {
				b.Fatal(fx.Name, err)
			}
		}
	}
}

// BenchmarkParseBytes parses a message with a 4 MB attachment held in
// memory and reads the attachment through a buffer, as the pipeline
// writes a file: the path of nearly every message a run takes.
func BenchmarkParseBytes(b *testing.B) {
	content, raw := largeMessage(4 << 20)
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := ParseBytes(raw)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{m.Files[0].Open()}, buf); err != nil || n != int64(len(content)) {
			b.Fatal("attachment not recovered whole", n, err)
		}
	}
}

// BenchmarkExpandOutlookMsg parses a message spooled to disk whose 8 MB
// invoice is inside an attached .msg, and reads it, beside the same
// invoice attached directly: the compound file's sectors are read from
// the base64 body, out of order, where they lie.
func BenchmarkExpandOutlookMsg(b *testing.B) {
	content := randomContent(30, 8<<20)
	msg := testmail.OutlookMsg(testmail.OutlookItem{Attachments: []testmail.OutlookAttachment{
		{Name: "notes.txt", Content: []byte("small, in the mini stream\r\n")},
		{Name: "invoice.pdf", Content: content},
	}})
	for _, c := range []struct{ name, raw string }{
		{"msg", withMsg(msg, "item.msg", "application/vnd.ms-outlook")},
		{"direct", mixed(textBody, part(string(base64Lines(content)),
			"Content-Type: application/pdf", "Content-Disposition: attachment; filename=invoice.pdf",
			"Content-Transfer-Encoding: base64"))},
	} {
		b.Run(c.name, func(b *testing.B) {
			raw := strings.NewReader(c.raw)
			b.SetBytes(int64(len(content)))
			b.ReportAllocs()
			for b.Loop() {
				m, err := ParseAt(raw, int64(len(c.raw)))
				if err != nil {
					b.Fatal(err)
				}
				if err := m.ExpandNested(false); err != nil {
					b.Fatal(err)
				}
				f := m.Files[len(m.Files)-1]
				if f.Name != "invoice.pdf" || f.Size != int64(len(content)) {
					b.Fatalf("files %q", fileNames(m))
				}
				if _, err := io.Copy(io.Discard, f.Open()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
