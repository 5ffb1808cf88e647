package extract

import (
	"strings"
	"testing"
)

func TestBodiesAndHeader(t *testing.T) {
	raw := envelope +
		"X-Mailer: =?utf-8?q?Scanner_M=C3=BCnchen?=\r\n" +
		multipart("mixed", "outer",
			multipart("alternative", "alt",
				part("Gr=FC=DFe,\r\nsee attached.\r\n", "Content-Type: text/plain; charset=iso-8859-1", "Content-Transfer-Encoding: quoted-printable"),
				part("PGI+SGk8L2I+", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: base64"),
			),
			part("not a body\r\n", "Content-Type: text/plain", "Content-Disposition: attachment; filename=notes.txt"),
		)
	m, err := Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "Grüße,\r\nsee attached.\r\n" {
		t.Errorf("Text = %q", m.Text)
	}
	if m.HTML != "<b>Hi</b>" {
		t.Errorf("HTML = %q", m.HTML)
	}
	if got := m.Header["X-Mailer"]; len(got) != 1 || got[0] != "Scanner München" {
		t.Errorf(`Header["X-Mailer"] = %q, want the decoded value`, got)
	}
	if got := m.Header["Subject"]; len(got) != 1 || got[0] != "test" {
		t.Errorf(`Header["Subject"] = %q`, got)
	}
	if len(m.Files) != 1 || m.Files[0].Name != "notes.txt" {
		t.Errorf("files = %v, want only notes.txt: an attached text is no body", m.Files)
	}
}

func TestBodyOfSinglePartMessage(t *testing.T) {
	m, err := Parse(strings.NewReader("From: a@b.example\r\nSubject: x\r\n\r\nplain body\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "plain body\r\n" || m.HTML != "" {
		t.Errorf("Text %q HTML %q", m.Text, m.HTML)
	}
}

// Apple Mail and iOS Mail cut the text where a file is dropped into it:
// the body is the pieces one after the other; of alternatives, the first.
func TestBodyInPieces(t *testing.T) {
	pdf := part("JVBERi0xLjQK", "Content-Type: application/pdf; name=a.pdf", "Content-Disposition: inline; filename=a.pdf", "Content-Transfer-Encoding: base64")
	for _, tc := range []struct {
		name, msg, text, html string
	}{
		{"iOS Mail, plain", mixed(part("Hi,\r\n", "Content-Type: text/plain"), pdf, part("Sent from my iPhone\r\n", "Content-Type: text/plain")),
			"Hi,\r\nSent from my iPhone\r\n", ""},
		{"Apple Mail, HTML", envelope + multipart("alternative", "alt",
			part("Hi,\r\nRegards\r\n", "Content-Type: text/plain"),
			multipart("mixed", "in", part("<p>Hi,</p>", "Content-Type: text/html"), pdf, part("<p>Regards</p>", "Content-Type: text/html"))),
			"Hi,\r\nRegards\r\n", "<p>Hi,</p><p>Regards</p>"},
		{"alternatives", envelope + multipart("alternative", "alt",
			part("one", "Content-Type: text/plain"), part("<p>one</p>", "Content-Type: text/html"), part("<p>two</p>", "Content-Type: text/html")),
			"one", "<p>one</p>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tc.msg))
			if err != nil {
				t.Fatal(err)
			}
			if m.Text != tc.text || m.HTML != tc.html {
				t.Errorf("Text %q HTML %q, want %q and %q", m.Text, m.HTML, tc.text, tc.html)
			}
			if len(m.Files) != 1 && tc.name != "alternatives" {
				t.Errorf("files %v, want a.pdf", m.Files)
			}
		})
	}
}

// The pieces of a body together are kept up to maxBodyBytes.
func TestBodyInPiecesIsBounded(t *testing.T) {
	piece := part(strings.Repeat("x", maxBodyBytes*3/4), "Content-Type: text/plain")
	m, err := Parse(strings.NewReader(mixed(piece, piece)))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Text) != maxBodyBytes {
		t.Errorf("Text of %d bytes, want the first %d", len(m.Text), maxBodyBytes)
	}
}
