package popimap

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"mailtask/internal/testmail"
)

// mail describes a test message; empty fields get a default.
type mail struct {
	from, to, cc, subject, date string
	header                      []string // extra header lines
	text, html                  string
	files                       []testmail.Attachment
	pad                         int // bytes of filler in the text, for size rules
}

func (m mail) raw() []byte {
	or := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\n", or(m.from, "Acme Billing <billing@acme.example>"), or(m.to, "invoices@contoso.example"))
	if m.cc != "" {
		fmt.Fprintf(&b, "Cc: %s\r\n", m.cc)
	}
	fmt.Fprintf(&b, "Subject: %s\r\nDate: %s\r\n", or(m.subject, "Invoice 4711"), or(m.date, "Fri, 14 Mar 2025 09:30:00 +0100"))
	// Unique per content, so that no two test messages share a ledger
	// fingerprint by accident.
	id := sha256.Sum256([]byte(fmt.Sprint(m)))
	fmt.Fprintf(&b, "Message-ID: <%x@test.example>\r\nMIME-Version: 1.0\r\n", id[:8])
	for _, h := range m.header {
		b.WriteString(h + "\r\n")
	}
	text := or(m.text, "Please find the invoice attached.") + "\r\n" + strings.Repeat("x", m.pad)
	if len(m.files) == 0 && m.html == "" {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n")
		return []byte(b.String())
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n")
	b.WriteString("--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n")
	if m.html != "" {
		b.WriteString("--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + m.html + "\r\n")
	}
	for _, f := range m.files {
		disp := "attachment"
		if f.Inline {
			disp = "inline"
		}
		ct := or(f.ContentType, "application/octet-stream")
		fmt.Fprintf(&b, "--b1\r\nContent-Type: %s; name=\"%s\"\r\nContent-Disposition: %s; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n%s\r\n",
			ct, f.Name, disp, f.Name, base64.StdEncoding.EncodeToString(f.Content))
	}
	b.WriteString("--b1--\r\n")
	return []byte(b.String())
}

func pdfFile(name string) testmail.Attachment {
	return testmail.Attachment{Name: name, ContentType: "application/pdf", Content: pdf(name)}
}

// runAt runs the fixture's task with the clock at now.
func (f *fixture) runAt(now time.Time) (Summary, error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], Now: func() time.Time { return now }})
}

// appendUIDs appends raws and returns their UIDs.
func (f *fixture) appendUIDs(raws ...[]byte) []uint32 {
	f.t.Helper()
	var uids []uint32
	for _, raw := range raws {
		uid, err := f.srv.Append("INBOX", raw)
		if err != nil {
			f.t.Fatal(err)
		}
		uids = append(uids, uid)
	}
	return uids
}

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
