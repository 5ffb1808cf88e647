package rules

import (
	"strings"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/extract"
)

// baseHeader is the header of every test message; a test's own fields
// replace those of the same name.
var baseHeader = []string{
	"From: Acme Billing <billing@acme.example>",
	"To: Invoices <invoices@contoso.example>, archive@contoso.example",
	"Cc: Boss <boss@contoso.example>",
	"Subject: Invoice 4711 for March",
	"Date: Fri, 14 Mar 2025 09:30:00 +0100",
	"Message-ID: <m1@acme.example>",
	"X-Mailer: Canon iR-ADV C5535",
	"MIME-Version: 1.0",
	"Content-Type: text/plain; charset=utf-8",
}

// message parses a message with baseHeader, overridden by header lines,
// and body.
func message(t *testing.T, body string, header ...string) *extract.Message {
	t.Helper()
	lines := append([]string(nil), header...)
	for _, b := range baseHeader {
		name, _, _ := strings.Cut(b, ":")
		overridden := false
		for _, h := range header {
			if hn, _, _ := strings.Cut(h, ":"); strings.EqualFold(hn, name) {
				overridden = true
			}
		}
		if !overridden {
			lines = append(lines, b)
		}
	}
	raw := strings.Join(lines, "\r\n") + "\r\n\r\n" + body
	m, err := extract.Parse(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// compile builds a Set from a [task.match] written in TOML, through the
// configuration loader so that tests see what an operator's file gives.
func compile(t *testing.T, matchTOML string) *Set {
	t.Helper()
	cfg, err := config.Parse("/cfg/m.toml", []byte(`
[accounts.a]
host = "127.0.0.1"
username = "u"
password = "p"
[[task]]
name = "t"
account = "a"
destination = "/tmp/d"
time_zone = "Europe/Berlin"
[task.match]
`+matchTOML))
	if err != nil {
		t.Fatal(err)
	}
	task := cfg.Tasks[0]
	s, err := New(task.Match, task.Location)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testNow = time.Date(2025, 3, 20, 12, 0, 0, 0, time.UTC)

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
