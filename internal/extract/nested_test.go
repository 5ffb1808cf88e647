package extract

import (
	"slices"
	"strings"
	"testing"
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
	m.ExpandNested()
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
	m.ExpandNested()
	if len(m.Files) != 1 || m.Files[0].ContentType != "message/rfc822" {
		t.Errorf("files %v: a message nested beyond the bound should stay whole", m.Files)
	}
	if !slices.ContainsFunc(m.Problems, func(p string) bool { return strings.Contains(p, "nested more than") }) {
		t.Errorf("problems %q do not mention the bound", m.Problems)
	}
}
