package mailbox

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s with everything a terminal would act on escaped:
// control characters (C0, DEL, C1) as \xNN or \uNNNN, bytes that are not
// UTF-8 as \xNN, and the Unicode format characters that reorder or hide
// text (bidi overrides, zero-width marks) as \uNNNN. A server's words
// reach the terminal through errors (run-task's stderr, status) and the
// failure mail; a hostile server's escape sequences would clear the
// screen or set the window title there. Backslashes are left alone, so
// Printable(Printable(s)) == Printable(s).
func Printable(s string) string {
	if isPlainASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
