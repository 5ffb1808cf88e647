package mailbox

import (
	"errors"
	"strings"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)", ""},
		{"caf\u00e9 \u65e5\u672c \U0001f4e7 tab\there", `café 日本 📧 tab\x09here`},
		{"\x1b]0;owned\x07\x1b[2J", `\x1b]0;owned\x07\x1b[2J`},
		{"a\r\nb\x00c\x7f", `a\x0d\x0ab\x00c\x7f`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"bad \xff\xfe utf-8", `bad \xff\xfe utf-8`},
		{"bidi \u202egnp.exe", `bidi \u202egnp.exe`},
		{`a \x1b already escaped`, ""},
	} {
		want := tc.want
		if want == "" {
			want = tc.in
		}
		got := Printable(tc.in)
		if got != want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, want)
		}
		if Printable(got) != got {
			t.Errorf("Printable(%q) changes it again", got)
		}
	}
}

func TestErrorIsPrintable(t *testing.T) {
	err := &Error{Step: StepLogin, Addr: "mail.example.com:993", User: "u", Err: errors.New("NO \x1b[2Jgone")}
	if text := err.Error(); strings.ContainsRune(text, 0x1b) {
		t.Errorf("%q carries an escape character", text)
	}
}
