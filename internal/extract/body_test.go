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
