package extract

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"net/textproto"
	"strings"
	"testing"
	"unicode/utf8"
)

// seedMessages are realistic messages: what Outlook, Gmail, scanners and
// broken mailers send.
func seedMessages() []string {
	pdf := part("JVBERi0xLjQK", "Content-Type: application/pdf", "Content-Transfer-Encoding: base64",
		"Content-Disposition: attachment;\r\n filename*0*=UTF-8''Rechnung%20%C3%9C; filename*1=\"bersicht.pdf\"")
	return []string{
		mixed(textBody, pdf),
		mixed(multipart("alternative", "alt",
			part("plain", "Content-Type: text/plain"),
			multipart("related", "rel",
				part("<img src=cid:logo>", "Content-Type: text/html"),
				part("iVBORw0KGgo=", "Content-Type: image/png; name=\"=?UTF-8?B?w6k=?=.png\"",
					"Content-Disposition: inline", "Content-ID: <logo>", "Content-Transfer-Encoding: base64"))),
			part("Subject: fwd\r\n\r\ninner\r\n", "Content-Type: message/rfc822")),
		envelope + part("JVBERi0xLjQK", "Content-Type: application/pdf; name=\"../../scan.pdf\"", "Content-Transfer-Encoding: base64"),
		envelope + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + pdf,
		mixed(part("a=3Db=\r\n", "Content-Type: text/csv; name=\"CON.csv\"", "Content-Transfer-Encoding: quoted-printable")),
		"Subject: only headers\r\n",
		"",
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range seedMessages() {
		f.Add([]byte(s))
	}
	for _, raw := range realWorldSeeds() {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Parse(bytes.NewReader(raw))
		// Parsed where it lies, through a small window, it is the same.
		at, atErr := parse(windowedText(raw))
		if fmt.Sprint(err) != fmt.Sprint(atErr) {
			t.Fatalf("Parse: %v; ParseAt: %v", err, atErr)
		}
		if err != nil {
			if !errors.Is(err, ErrUnparseable) {
				t.Fatalf("error %v does not wrap ErrUnparseable", err)
			}
			return
		}
		if a, b := describeMessage(t, m), describeMessage(t, at); a != b {
			t.Fatalf("ParseAt differs:\n%s\nParse:\n%s", b, a)
		}
		for _, f := range m.Files {
			checkName(t, f.Name)
			if f.ContentType != strings.ToLower(f.ContentType) || f.ContentType == "" {
				t.Errorf("content type %q is empty or not lower case", f.ContentType)
			}
			if f.Type() == "" && f.ContentType != "" {
				t.Errorf("file %q of declared type %q has no type", f.Name, f.ContentType)
			}
		}
		// Descending into attached messages and winmail.dat, or into
		// winmail.dat alone, holds to the same promises.
		for _, expand := range []func() error{func() error { return m.ExpandNested(true) }, at.ExpandTNEF} {
			if err := expand(); err != nil && !errors.Is(err, ErrUnparseable) {
				t.Fatalf("error %v does not wrap ErrUnparseable", err)
			}
		}
		for _, f := range append(m.Files, at.Files...) {
			checkName(t, f.Name)
		}
	})
}

func FuzzSanitizeName(f *testing.F) {
	for _, s := range []string{
		"invoice.pdf", "../../etc/passwd", `C:\a\b.pdf`, "a\x00b", "con.txt", "...",
		".hidden", "Cafe\u0301.pdf", "e\x00\u0301", "invoice\u202Efdp.exe", "caf\xe9.pdf",
		strings.Repeat("€", 100) + ".pdf", "CON" + strings.Repeat(" ", 300) + "x.pdf",
	} {
		f.Add(s)
	}
	for _, s := range hostileNameSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		checkName(t, SanitizeName(name))
	})
}

// FuzzPartName: whatever the parameters, the name is valid UTF-8, and
// where the strict RFC 2045 parse reads a plain filename (and no RFC 2231
// form competes), that is the name, decoded.
func FuzzPartName(f *testing.F) {
	for _, s := range []string{
		`attachment; filename= "=?utf-8?Q?Rechnung_M=C3=A4rz.pdf?="`,
		"attachment; filename=\r\n\t\"=?iso-8859-1?Q?a.?=\r\n =?iso-8859-1?Q?pdf?=\"; size=631148; creation-date=\"Fri, 05 Jul 2019 10:00:00 GMT\"",
		`attachment; filename*=iso-8859-1''caf%E9.pdf`, `attachment; filename=Rechnung April.pdf`,
		`inline; filename="a"; filename="b"`, `attachment; filename*0*=UTF-8''a; filename*1=".pdf"`,
		"inline;\r\n\tfilename=\"Rechnung 2026-014.pdf\"", "attachment; filename=\"Fax f\xfcr M\xe4rz.pdf\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := textproto.MIMEHeader{"Content-Disposition": {v}}
		_, name := partName(h)
		if !utf8.ValidString(name) {
			t.Fatalf("name %q is not UTF-8", name)
		}
		_, params, err := mime.ParseMediaType(headerText(v))
		if err != nil || strings.Contains(strings.ToLower(v), "filename*") || strings.TrimSpace(decodeName(params["filename"])) == "" {
			return
		}
		if want := decodeName(params["filename"]); name != want {
			t.Fatalf("name %q, the strict parse reads %q", name, want)
		}
	})
}
