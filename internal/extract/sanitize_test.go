package extract

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitizeName(t *testing.T) {
	long := strings.Repeat("a", 1000)
	tests := []struct{ in, want string }{
		{"invoice.pdf", "invoice.pdf"},
		{"Rechnung Nr. 42.pdf", "Rechnung Nr. 42.pdf"},
		{"../x", "x"},
		{"../../etc/passwd", "passwd"},
		{"/etc/passwd", "passwd"},
		{`C:\a\b`, "b"},
		{`C:\x\y.pdf`, "y.pdf"},
		{`..\..\boot.ini`, "boot.ini"},
		{"dir/", fallbackName},
		{"a\x00b", "ab"},
		{"a\nb", "ab"},
		{"a\tb\rc\x1b\x7fd\u0085e", "abcde"},
		{`a<b>c:d"e|f?g*h.pdf`, "a_b_c_d_e_f_g_h.pdf"},
		{"file.pdf::$DATA", "file.pdf__$DATA"},
		{"invoice\u202Efdp.exe", "invoicefdp.exe"},
		{"CON", "_CON"},
		{"con.txt", "_con.txt"},
		{"Com1.pdf", "_Com1.pdf"},
		{"lpt9", "_lpt9"},
		{"NUL.tar.gz", "_NUL.tar.gz"},
		{"aux .txt", "_aux .txt"},
		{"COM¹.txt", "_COM¹.txt"},
		{"CONSOLE.txt", "CONSOLE.txt"},
		{"COM10", "COM10"},
		{"con_", "con_"},
		{"...", fallbackName},
		{".", fallbackName},
		{"..", fallbackName},
		{" . . ", fallbackName},
		{"", fallbackName},
		{"\x00\x01", fallbackName},
		{".hidden", "hidden"},
		{"..hidden.txt", "hidden.txt"},
		{" name.pdf ", "name.pdf"},
		{"name.pdf.", "name.pdf"},
		{"Cafe\u0301.pdf", "Caf\u00e9.pdf"},
		{"e\x00\u0301", "\u00e9"},
		{"caf\xe9.pdf", "caf_.pdf"},
		{long + ".pdf", long[:maxNameBytes-4] + ".pdf"},
		{long, long[:maxNameBytes]},
		{"a." + long, ("a." + long)[:maxNameBytes]},
		{strings.Repeat("a", 195) + "     x.pdf", strings.Repeat("a", 195) + ".pdf"},
		{"CON" + strings.Repeat(" ", 300) + "x.pdf", "_CON.pdf"},
	}
	for _, tt := range tests {
		got := SanitizeName(tt.in)
		if got != tt.want {
			t.Errorf("SanitizeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
		checkName(t, got)
	}
}

func TestSanitizeNameKeepsRunesWhole(t *testing.T) {
	// 3-byte runes do not divide 196, so a byte cut would split one.
	in := strings.Repeat("€", 400) + ".pdf"
	got := SanitizeName(in)
	if !utf8.ValidString(got) {
		t.Fatalf("SanitizeName cut inside a rune: %q", got)
	}
	if !strings.HasSuffix(got, "€.pdf") || len(got) > maxNameBytes || len(got) < maxNameBytes-3 {
		t.Errorf("SanitizeName(400×€.pdf) = %d bytes %q, want the most whole runes under %d plus .pdf", len(got), got, maxNameBytes)
	}
}
