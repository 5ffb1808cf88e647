package extract

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseMetadata(t *testing.T) {
	msg := "From: =?UTF-8?Q?M=C3=BCller=2C_Anna?= <anna@example.com>, other@example.com\r\n" +
		"To: a@example.org, \"B\" <b@example.org>\r\n" +
		"Cc: undisclosed-recipients:;\r\n" +
		"Subject: =?UTF-8?B?UmVjaG51bmcgw5xiZXJzaWNodC5wZGY=?=\r\n" +
		"Message-ID: <abc.123@mail.example.com> (sent by x)\r\n" +
		"Date: Tue, 03 Mar 2026 09:15:00 +0100\r\n" +
		"\r\n" +
		"body\r\n"
	m, err := Parse(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "anna@example.com" {
		t.Errorf("From = %q", m.From)
	}
	if want := []string{"a@example.org", "b@example.org"}; !slices.Equal(m.To, want) {
		t.Errorf("To = %q, want %q", m.To, want)
	}
	if len(m.Cc) != 0 {
		t.Errorf("Cc = %q, want none", m.Cc)
	}
	if m.Subject != "Rechnung Übersicht.pdf" {
		t.Errorf("Subject = %q", m.Subject)
	}
	if m.MessageID != "abc.123@mail.example.com" {
		t.Errorf("MessageID = %q", m.MessageID)
	}
	if want := time.Date(2026, 3, 3, 8, 15, 0, 0, time.UTC); !m.Date.Equal(want) {
		t.Errorf("Date = %v, want %v", m.Date, want)
	}
	if len(m.Problems) != 0 {
		t.Errorf("Problems = %q, want none", m.Problems)
	}
}

func TestParseBadHeadersAreProblems(t *testing.T) {
	msg := "From: not an address\r\nDate: the day after tomorrow\r\nSubject: s\r\n\r\nbody\r\n"
	m, err := Parse(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "" || !m.Date.IsZero() {
		t.Errorf("From = %q, Date = %v, want both empty", m.From, m.Date)
	}
	if !hasProblem(m, "From header") || !hasProblem(m, "Date header") {
		t.Errorf("Problems = %q, want one for From and one for Date", m.Problems)
	}
}

func TestParseContent(t *testing.T) {
	cp1252 := "caf\xe9;1\r\nna\xefve;2\r\n"
	tests := []struct {
		name string
		part string
		want string
	}{
		{"base64", part("JVBE\r\nRi0x\r\nLjQK\r\n", "Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: base64"), "%PDF-1.4\n"},
		{"base64 unpadded", part("aGk", "Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: BASE64"), "hi"},
		{
			"quoted-printable keeps CRLF, joins soft breaks, strips padding",
			part("a=3Db  \r\nsoft=\r\nbreak =C3=A9\r\n", "Content-Type: text/plain; charset=utf-8; name=a.txt", "Content-Transfer-Encoding: quoted-printable"),
			"a=b\r\nsoftbreak é\r\n",
		},
		{
			"quoted-printable with bad escapes keeps them",
			part("100% =ZZ =\r\n=4", "Content-Type: text/plain; name=a.txt", "Content-Transfer-Encoding: quoted-printable"),
			"100% =ZZ =4",
		},
		{
			"declared charset is not transcoded",
			part(cp1252, "Content-Type: text/csv; charset=windows-1252; name=a.csv", "Content-Transfer-Encoding: 8bit"),
			cp1252,
		},
		{
			"charset detection does not transcode either",
			part(strings.Repeat(cp1252, 40), "Content-Type: text/plain; name=a.txt", "Content-Disposition: attachment"),
			strings.Repeat(cp1252, 40),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(mixed(textBody, tt.part)))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Files) != 1 {
				t.Fatalf("got %d files, want 1", len(m.Files))
			}
			if got := contentOf(t, m.Files[0]); !bytes.Equal(got, []byte(tt.want)) {
				t.Errorf("content = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	pdf := part("JVBERi0xLjQK", "Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: base64")
	tests := []struct {
		name    string
		msg     string
		files   int
		content string // of the first file, if any
		problem string // a substring of some problem; "" for none expected
	}{
		{
			name:    "missing closing boundary",
			msg:     envelope + "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + pdf + "\r\n",
			files:   1,
			content: "%PDF-1.4\n",
			problem: "Boundary",
		},
		{
			name: "broken base64",
			msg: mixed(textBody, part("JVBE*Ri0x\r\n!LjQK~\r\n",
				"Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: base64")),
			files:   1,
			content: "%PDF-1.4\n",
			problem: "not base64",
		},
		{
			name: "truncated base64",
			msg: mixed(textBody, part("JVBERi0xLjQKQ",
				"Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: base64")),
			files:   1,
			content: "%PDF-1.4\n",
			problem: "truncated",
		},
		{
			name: "unknown transfer encoding",
			msg: mixed(textBody, part("(This file must be converted with BinHex 4.0)\r\n",
				"Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: x-binhex")),
			files:   1,
			content: "(This file must be converted with BinHex 4.0)\r\n",
			problem: "x-binhex",
		},
		{
			name:    "multipart without boundary",
			msg:     envelope + "Content-Type: multipart/mixed\r\n\r\nsome body\r\n",
			problem: "without a usable boundary",
		},
		{
			name: "header-only message",
			msg:  "Subject: only headers\r\n",
		},
		{
			name: "header and empty body",
			msg:  envelope + "\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Files) != tt.files {
				t.Fatalf("got %d files, want %d (problems %q)", len(m.Files), tt.files, m.Problems)
			}
			if tt.files > 0 && string(contentOf(t, m.Files[0])) != tt.content {
				t.Errorf("content = %q, want %q", contentOf(t, m.Files[0]), tt.content)
			}
			if tt.problem == "" && len(m.Problems) > 0 {
				t.Errorf("Problems = %q, want none", m.Problems)
			}
			if tt.problem != "" && !hasProblem(m, tt.problem) {
				t.Errorf("Problems = %q, want one containing %q", m.Problems, tt.problem)
			}
		})
	}
}

func TestParseUnparseable(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"blank line":     "\r\n",
		"binary garbage": "\x00\x01\x02\xff\xfe\x89PNG\r\n\x1a\n\x00\x00",
		"no header":      "hello world, this is not a mail\n\nbody",
	} {
		t.Run(name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(in))
			if !errors.Is(err, ErrUnparseable) {
				t.Fatalf("Parse = %+v, %v; want ErrUnparseable", m, err)
			}
		})
	}
}

func hasProblem(m *Message, sub string) bool {
	return slices.ContainsFunc(m.Problems, func(p string) bool { return strings.Contains(p, sub) })
}

// Once its content is dropped, a message still describes its files and
// header, and reading a file fails rather than giving empty content.
func TestDropContent(t *testing.T) {
	raw := mixed(textBody, part("JVBERi0xLjQK", "Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: base64"))
	m, err := ParseBytes([]byte(raw))
	if err != nil || len(m.Files) != 1 || m.Text == "" {
		t.Fatalf("ParseBytes = %+v, %v", m, err)
	}
	m.DropContent()
	if f := m.Files[0]; f.Name != "a.pdf" || f.Size != 9 || f.ContentType != "application/pdf" || m.Subject != "test" {
		t.Errorf("after DropContent: %+v, subject %q", f, m.Subject)
	}
	if m.Text != "" || m.HTML != "" {
		t.Errorf("bodies kept: %q %q", m.Text, m.HTML)
	}
	if _, err := io.ReadAll(m.Files[0].Open()); !errors.Is(err, ErrDropped) {
		t.Errorf("reading a dropped file: %v, want ErrDropped", err)
	}
}

// Scan-to-mail devices and fax gateways write 8-bit header bytes raw, no
// charset declared: they are the sender's text all the same, and the
// address behind a display name so written is not lost.
func TestEightBitHeaders(t *testing.T) {
	raw := "From: Scanner M\xfcller <scan@example.test>\r\nTo: =?utf-8?q?B=C3=BCro?= <buero@example.test>, Kasse K\xf6ln <kasse@example.test>\r\n" +
		"Subject: Scan f\xfcr Buchhaltung\r\nX-Mailer: Ger\xe4t 4F\r\nMessage-ID: <scan-1@example.test>\r\n\r\nbody\r\n"
	m, err := Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "scan@example.test" || !slices.Equal(m.To, []string{"buero@example.test", "kasse@example.test"}) {
		t.Errorf("From %q To %q (problems %q)", m.From, m.To, m.Problems)
	}
	if m.Subject != "Scan für Buchhaltung" {
		t.Errorf("Subject %q", m.Subject)
	}
	for key, want := range map[string]string{"From": "Scanner Müller <scan@example.test>", "Subject": "Scan für Buchhaltung", "X-Mailer": "Gerät 4F"} {
		if got := m.Header[key]; len(got) != 1 || got[0] != want {
			t.Errorf("Header[%q] = %q, want %q", key, got, want)
		}
	}
}
