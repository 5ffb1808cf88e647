package extract

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"mailtask/internal/testmail"
)

func TestExpandNested(t *testing.T) {
	inner := envelope + multipart("mixed", "in",
		textBody,
		part("JVBERi0xLjQK", "Content-Type: application/pdf; name=inner.pdf", "Content-Transfer-Encoding: base64", "Content-Disposition: attachment; filename=inner.pdf"),
	)
	outer := mixed(
		textBody,
		part("a,b\r\n", "Content-Type: text/csv", "Content-Disposition: attachment; filename=outer.csv"),
		part(inner, "Content-Type: message/rfc822", "Content-Disposition: attachment; filename=\"fwd.eml\""),
		part("From: x\r\n\r\nno parts\r\n", "Content-Type: message/rfc822", "Content-Disposition: attachment"),
	)
	m, err := Parse(strings.NewReader(outer))
	if err != nil {
		t.Fatal(err)
	}
	names := func() []string {
		var n []string
		for _, f := range m.Files {
			n = append(n, f.Name)
		}
		return n
	}
	if got, want := names(), []string{"outer.csv", "fwd.eml", "attachment-3.eml"}; !slices.Equal(got, want) {
		t.Fatalf("before: files %q, want %q", got, want)
	}
	m.ExpandNested(false)
	if got, want := names(), []string{"outer.csv", "inner.pdf"}; !slices.Equal(got, want) {
		t.Errorf("after: files %q, want %q (a nested message without files adds none)", got, want)
	}
	if string(contentOf(t, m.Files[1])) != "%PDF-1.4\n" {
		t.Errorf("inner.pdf holds %q", contentOf(t, m.Files[1]))
	}
}

func TestExpandNestedDepthBound(t *testing.T) {
	msg := envelope + multipart("mixed", "b0", textBody, part("x", "Content-Type: application/pdf", "Content-Disposition: attachment; filename=deep.pdf"))
	for i := 1; i <= maxNesting+2; i++ {
		msg = envelope + multipart("mixed", "b"+strings.Repeat("x", i), part(msg, "Content-Type: message/rfc822", "Content-Disposition: attachment"))
	}
	m, err := Parse(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	m.ExpandNested(false)
	if len(m.Files) != 1 || m.Files[0].ContentType != "message/rfc822" {
		t.Errorf("files %v: a message nested beyond the bound should stay whole", m.Files)
	}
	if !slices.ContainsFunc(m.Problems, func(p string) bool { return strings.Contains(p, "nested more than") }) {
		t.Errorf("problems %q do not mention the bound", m.Problems)
	}
}

// inlineForward is a message forwarded inline, as Netscape and many
// clients send it: an unnamed message/rfc822 part with an inline
// disposition, here holding one nested the same way, depth levels in all,
// with a PDF in the innermost.
func inlineForward(depth int) string {
	msg := envelope + multipart("mixed", "b0", textBody,
		part("JVBERi0xLjQK", "Content-Type: application/pdf; name=deep.pdf", "Content-Disposition: attachment; filename=deep.pdf", "Content-Transfer-Encoding: base64"))
	for i := 1; i <= depth; i++ {
		msg = envelope + multipart("mixed", "b"+strings.Repeat("x", i),
			part("-------- Original Message --------\r\n", "Content-Type: text/plain"),
			part(msg, "Content-Type: message/rfc822", "Content-Disposition: inline"))
	}
	return msg
}

// Files inside an unnamed message shown in the text are not lost: with
// nested = "eml" the message is a file, with "extract" its files are.
func TestUnnamedShownMessages(t *testing.T) {
	withFile := "Subject: one\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nsee\r\n--m\r\n" +
		"Content-Type: text/csv; name=data.csv\r\nContent-Disposition: attachment\r\n\r\na,b\r\n--m--\r\n"
	textOnly := "Subject: two\r\n\r\njust text\r\n"
	for _, c := range []struct {
		name           string
		msg            string
		eml, extracted []string
	}{
		{"inline forward three deep", inlineForward(3), []string{"attachment-1.eml"}, []string{"deep.pdf"}},
		{"inline forward without files", mixed(textBody, part(textOnly, "Content-Type: message/rfc822", "Content-Disposition: inline")), nil, nil},
		{"message/rfc822 without a disposition", mixed(textBody, part(withFile, "Content-Type: message/rfc822")), []string{"attachment-1.eml"}, []string{"data.csv"}},
		{
			"digest members, typed by default",
			envelope + multipart("digest", "dig", "\r\n"+textOnly, "\r\n"+withFile, part(withFile, "Content-Type: message/rfc822")),
			[]string{"attachment-1.eml", "attachment-2.eml"}, []string{"data.csv", "data.csv"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(c.msg))
			if err != nil {
				t.Fatal(err)
			}
			if got := fileNames(m); !slices.Equal(got, c.eml) {
				t.Errorf("files %q, want %q", got, c.eml)
			}
			m.ExpandNested(false)
			if got := fileNames(m); !slices.Equal(got, c.extracted) {
				t.Errorf("expanded: files %q, want %q", got, c.extracted)
			}
		})
	}
}

// An unnamed shown message nested deeper than maxNesting is kept whole:
// what it holds is not looked at, and not lost.
func TestUnnamedShownMessageDepthBound(t *testing.T) {
	m, err := Parse(strings.NewReader(inlineForward(maxNesting + 2)))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 1 || m.Files[0].ContentType != "message/rfc822" {
		t.Errorf("files %q, want the outermost message kept whole", fileNames(m))
	}
}

func fileNames(m *Message) []string {
	var n []string
	for _, f := range m.Files {
		n = append(n, f.Name)
	}
	return n
}

// tinyMessages is a message of n attached messages, each of perMessage
// tiny PDF parts: under maxParts each, far over it together.
func tinyMessages(n, perMessage int) string {
	var pdfs []string
	for i := range perMessage {
		pdfs = append(pdfs, part("JVBERi0xLjQK", "Content-Type: application/pdf", "Content-Transfer-Encoding: base64",
			fmt.Sprintf("Content-Disposition: attachment; filename=%d.pdf", i)))
	}
	inner := envelope + multipart("mixed", "in", pdfs...)
	var outer []string
	for range n {
		outer = append(outer, part(inner, "Content-Type: message/rfc822", "Content-Disposition: attachment"))
	}
	return mixed(outer...)
}

// Attached messages opened hold to the limit on the parts of the message
// that holds them: ten of 1,500 parts each (1.6 MB) made 15,000 files.
func TestExpandNestedCountsEveryPart(t *testing.T) {
	m, err := Parse(strings.NewReader(tinyMessages(10, 1500)))
	if err != nil {
		t.Fatal(err)
	}
	before := len(m.Files)
	if err := m.ExpandNested(false); !errors.Is(err, ErrUnparseable) || !strings.Contains(err.Error(), "more than 2000 MIME parts, counting those of the attached messages") {
		t.Errorf("ExpandNested: %v", err)
	}
	if len(m.Files) != before {
		t.Errorf("files %d after a refused expansion, %d before", len(m.Files), before)
	}
	// Within the limit together, they are opened.
	m, err = Parse(strings.NewReader(tinyMessages(3, 600)))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ExpandNested(false); err != nil || len(m.Files) != 1800 {
		t.Errorf("ExpandNested: %v, %d files", err, len(m.Files))
	}
}

// So do winmail.dat files opened.
func TestExpandTNEFCountsEveryFile(t *testing.T) {
	files := make([]testmail.TNEFFile, 900)
	for i := range files {
		files[i] = testmail.TNEFFile{Name: fmt.Sprintf("%d.pdf", i), Content: []byte("%PDF-1.4\n")}
	}
	stream := base64Lines(testmail.TNEF(files...))
	var parts []string
	for range 3 {
		parts = append(parts, part(string(stream), "Content-Type: application/ms-tnef; name=\"winmail.dat\"", "Content-Transfer-Encoding: base64"))
	}
	m, err := Parse(strings.NewReader(mixed(parts...)))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ExpandTNEF(); !errors.Is(err, ErrUnparseable) || !strings.Contains(err.Error(), "counting those of the winmail.dat files") {
		t.Errorf("ExpandTNEF: %v", err)
	}
	if len(m.Files) != 3 {
		t.Errorf("files %d after a refused expansion", len(m.Files))
	}
	m, err = Parse(strings.NewReader(mixed(parts[:2]...)))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ExpandTNEF(); err != nil || len(m.Files) != 1800 {
		t.Errorf("ExpandTNEF: %v, %d files", err, len(m.Files))
	}
}
