package rules

import (
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	for _, tc := range []struct {
		glob, s string
		want    bool
	}{
		{"*@acme.example", "billing@acme.example", true},
		{"*@acme.example", "Billing@ACME.Example", true},
		{"*@acme.example", "billing@acme.example.evil", false},
		{"invoice ?", "Invoice 7", true},
		{"invoice ?", "Invoice 77", false},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"a.b", "axb", false}, // '.' is literal
		{"[x]", "[x]", true},  // no character classes
		{`\*`, "*", true},
		{`\*`, "x", false},
		{`trailing\`, `trailing\`, true},
		{"rechnung*", "Rechnung März", true},
		{"*MÄRZ", "rechnung märz", true},
		{"multi\nline", "multi\nline", true},
		{"*x*", "a\nx\nb", true},
	} {
		if got := NewGlob(tc.glob).Match(tc.s); got != tc.want {
			t.Errorf("glob %q on %q = %v, want %v", tc.glob, tc.s, got, tc.want)
		}
	}
}

func TestGlobLiteral(t *testing.T) {
	for _, tc := range []struct{ glob, want string }{
		{"*@acme.example", "@acme.example"},
		{"Invoice *", "Invoice"},
		{"Acme Billing*", "Billing"},
		{"*", ""},
		{"?", ""},
		{"a*bcd*ef", "bcd"},
		{"*März 2025*", "2025"}, // non-ASCII words are not pushed
		{`x\*yz`, "x*yz"},
	} {
		if got := NewGlob(tc.glob).lit; got != tc.want {
			t.Errorf("literal of %q = %q, want %q", tc.glob, got, tc.want)
		}
	}
}

// FuzzGlobLiteral checks what server-side search relies on: a value that
// matches a glob contains the glob's literal, ignoring case.
func FuzzGlobLiteral(f *testing.F) {
	for _, s := range []string{"*@acme.example", "Invoice ?*", `a\*b`, "x y*z"} {
		f.Add(s, "invoice 12 @acme.example")
	}
	f.Fuzz(func(t *testing.T, glob, value string) {
		// The two non-ASCII letters that fold to ASCII ones under Unicode
		// case folding (KELVIN SIGN, LATIN SMALL LETTER LONG S) are left
		// out: no mailer writes them for k and s.
		if strings.ContainsAny(value, "\u212a\u017f") {
			return
		}
		g := NewGlob(glob)
		if g.Match(value) && !strings.Contains(strings.ToLower(value), strings.ToLower(g.lit)) {
			t.Errorf("%q matches %q but lacks its literal %q", value, glob, g.lit)
		}
		if !g.Match(glob) && !strings.ContainsAny(glob, `*?\`) {
			t.Errorf("glob %q without wildcards does not match itself", glob)
		}
	})
}
