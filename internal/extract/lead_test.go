package extract

import (
	"bytes"
	"strings"
	"testing"
)

// Lines other parsers pass over before a header (an mbox separator, a
// line of spaces) do not make the message unparseable: it is read as if
// they were not there, and they are noted as problems.
func TestParseLeadingLines(t *testing.T) {
	msg := mixed(textBody, part("JVBERi0xLjQK", "Content-Type: application/pdf; name=a.pdf", "Content-Transfer-Encoding: base64"))
	for name, lead := range map[string]string{
		"mbox From line":             "From sender@example.com\r\n",
		"mbox From line with a date": "From MAILER-DAEMON Fri Jul  8 12:08:34 2011\r\n",
		"line of spaces":             "    \r\n",
		"tab line, bare LF":          "\t\n",
		"From line then spaces":      "From x\r\n \t \r\n",
	} {
		t.Run(name, func(t *testing.T) {
			raw := []byte(lead + msg)
			for _, parse := range []func() (*Message, error){
				func() (*Message, error) { return Parse(bytes.NewReader(raw)) },
				func() (*Message, error) { return parse(windowedText(raw)) },
			} {
				m, err := parse()
				if err != nil {
					t.Fatal(err)
				}
				if m.Subject != "test" || m.From != "sender@example.com" || len(m.Files) != 1 || m.Files[0].Name != "a.pdf" {
					t.Errorf("subject %q, from %q, files %v", m.Subject, m.From, m.Files)
				}
				if !hasProblem(m, "before the header, passed over") {
					t.Errorf("problems %q do not note the line", m.Problems)
				}
				if _, ok := m.Header["From sender@example.com Tue Mar  3 09"]; ok || len(m.Header["Date"]) != 1 {
					t.Errorf("header %v", m.Header)
				}
			}
		})
	}
}

// A header that starts with "From :" (white space before the colon) is a
// header, not an mbox separator.
func TestParseFromWithSpaceBeforeColon(t *testing.T) {
	m, err := Parse(strings.NewReader("From : a@example.com\r\nSubject: s\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "a@example.com" || len(m.Problems) != 0 {
		t.Errorf("from %q, problems %q", m.From, m.Problems)
	}
}
