package pathtmpl

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxSlugBytes keeps a slugged subject from taking most of a file name.
const maxSlugBytes = 60

// Slug turns text (a subject) into lower-case words of letters and digits
// joined by '-': "Re: Invoice #123 / März" becomes "re-invoice-123-märz".
// It returns "" when nothing is left.
func Slug(text string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(text) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			if b.Len()+utf8.RuneLen(r) > maxSlugBytes {
				break
			}
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return strings.TrimRight(b.String(), "-")
}

// Domain returns the lower-case domain of an address, "" if it has none.
func Domain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}
