package extract

import (
	"encoding/base64"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// encodedWord matches an RFC 2047 encoded-word. It is more lenient than the
// RFC, as mime.WordDecoder is not: whitespace in the charset and missing
// base64 padding are repaired rather than leaving the word encoded.
var encodedWord = regexp.MustCompile(`=\?([^?]*)\?([bBqQ])\?([^?]*)\?=`)

// decodeWords decodes every encoded-word in s. Adjacent words in the same
// charset are joined before charset decoding, so a multi-byte character
// split across two words (illegal, but common) survives. Whitespace between
// adjacent words is dropped, as RFC 2047 says. A word that cannot be decoded
// stays as it is.
func decodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	var (
		out     strings.Builder
		inRun   bool   // pending holds a run of decoded words not yet written
		pending []byte // decoded bytes of the current run of adjacent words
		charset string
		last    int // end of the previous match in s
	)
	flush := func() {
		if inRun {
			out.WriteString(decodeCharset(charset, pending))
			inRun, pending = false, nil
		}
	}
	for _, m := range encodedWord.FindAllStringSubmatchIndex(s, -1) {
		gap := s[last:m[0]]
		last = m[1]
		b, ok := decodeWordText(s[m[4]:m[5]], s[m[6]:m[7]])
		if !ok {
			flush()
			out.WriteString(gap)
			out.WriteString(s[m[0]:m[1]])
			continue
		}
		cs := strings.Join(strings.Fields(s[m[2]:m[3]]), "")
		switch {
		case !inRun || strings.TrimSpace(gap) != "":
			flush()
			out.WriteString(gap)
		case !strings.EqualFold(cs, charset):
			flush()
		}
		inRun, charset = true, cs
		pending = append(pending, b...)
	}
	flush()
	out.WriteString(s[last:])
	return out.String()
}

// decodeWordText decodes the text of one encoded-word in encoding enc ("B"
// or "Q").
func decodeWordText(enc, text string) ([]byte, bool) {
	if enc == "B" || enc == "b" {
		clean := strings.Map(func(r rune) rune {
			if r == '=' || r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, text)
		if len(clean)%4 == 1 {
			clean = clean[:len(clean)-1]
		}
		b, err := base64.RawStdEncoding.DecodeString(clean)
		return b, err == nil
	}
	b := make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '_':
			b = append(b, ' ')
		case c == '=' && i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2]):
			b = append(b, unhex(text[i+1])<<4|unhex(text[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return b, true
}

// decodeCharset converts b from the named charset to UTF-8. Names are looked
// up as browsers do (the WHATWG index, so "iso-8859-1" means windows-1252),
// then in the IANA registry. An unknown or empty charset still yields text:
// b itself if it is valid UTF-8, otherwise b read as windows-1252, the most
// common undeclared charset in mail.
func decodeCharset(charset string, b []byte) string {
	// RFC 2231 allows a language after the charset: "utf-8*en".
	charset, _, _ = strings.Cut(strings.TrimSpace(charset), "*")
	// A part declared UTF-8 that is not is usually windows-1252 mislabelled;
	// the UTF-8 decoder would turn every such byte into U+FFFD.
	if enc := lookupCharset(charset); enc != nil && (utf8.Valid(b) || !isUTF8(enc)) {
		if s, err := enc.NewDecoder().Bytes(b); err == nil {
			return string(s)
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	s, _ := charmap.Windows1252.NewDecoder().Bytes(b)
	return string(s)
}

func lookupCharset(name string) encoding.Encoding {
	if name == "" {
		return nil
	}
	if enc, err := htmlindex.Get(name); err == nil {
		return enc
	}
	if enc, err := ianaindex.MIME.Encoding(name); err == nil {
		return enc
	}
	return nil
}

func isUTF8(enc encoding.Encoding) bool {
	name, _ := htmlindex.Name(enc)
	return name == "utf-8"
}
