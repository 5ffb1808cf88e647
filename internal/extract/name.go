package extract

import (
	"mime"
	"net/textproto"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2/mediatype"
	"golang.org/x/text/unicode/norm"
)

// partName returns a part's lower-case disposition ("attachment",
// "inline" or "") and its decoded, NFC-normalised but not yet sanitised file
// name, "" if it has none.
//
// The name is looked up in MS-OXCMAIL order: Content-Disposition filename,
// then Content-Type name. Within each header the RFC 2231 form is read first
// by our own parser, because mime.ParseMediaType silently drops extended
// values in any charset but UTF-8 and US-ASCII; then the plain parameter,
// by parseParams.
func partName(h textproto.MIMEHeader) (disp, name string) {
	rawDisp, rawType := headerText(h.Get("Content-Disposition")), headerText(h.Get("Content-Type"))
	disp, dparams := parseParams(rawDisp)
	_, tparams := parseParams(rawType)
	for _, v := range []string{
		extendedParam(rawDisp, "filename"),
		dparams["filename"],
		extendedParam(rawType, "name"),
		tparams["name"],
	} {
		if v = decodeName(v); strings.TrimSpace(v) != "" {
			return strings.ToLower(disp), v
		}
	}
	return strings.ToLower(disp), ""
}

// parseParams parses a Content-Type or Content-Disposition value. The
// strict RFC 2045 parse comes first: it reads what Exchange sends, a
// quoted value after white space or a fold ("filename=\r\n\t\"...\""),
// which the lenient parser takes for the start of an unquoted value that
// runs on to the end of the header, taking the quotes, the extension's
// place and every parameter after it. What the strict parse refuses
// (unquoted spaces, a missing quote, a duplicate parameter, ...) the
// lenient one reads as enmime does.
func parseParams(v string) (value string, params map[string]string) {
	if value, params, err := mime.ParseMediaType(v); err == nil {
		return value, params
	}
	value, params, _, _ = mediatype.Parse(v)
	return value, params
}

// headerText makes a raw header value valid UTF-8 before it is parsed:
// raw 8-bit bytes with no declared charset are taken as windows-1252 unless
// they already are UTF-8, where the parser would turn them into U+FFFD.
func headerText(v string) string {
	if utf8.ValidString(v) {
		return v
	}
	return decodeCharset("", []byte(v))
}

// decodeName decodes RFC 2047 encoded-words even where a sender put them
// inside a quoted parameter, which RFC 2047 forbids and every mailer does.
// A value the lenient parser has decoded already may hold bytes that are
// not UTF-8 (a word declared "utf8" holding =80): they are read as
// headerText reads raw bytes.
func decodeName(v string) string {
	return norm.NFC.String(headerText(decodeWords(v)))
}

// extendedParam reads the RFC 2231 extended parameter key ("key*" or the
// continuations "key*0*", "key*1", ...) from a raw header value, in whatever
// charset it declares. It returns "" when there is none.
func extendedParam(header, key string) string {
	if !strings.Contains(strings.ToLower(header), key+"*") {
		return ""
	}
	var (
		single   string
		haveOne  bool
		sections = map[int]string{}
		extended = map[int]bool{}
	)
	for _, param := range splitParams(header) {
		k, v, ok := strings.Cut(param, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		rest, ok := strings.CutPrefix(k, key+"*")
		if !ok {
			continue
		}
		v = unquote(strings.TrimSpace(v))
		if rest == "" {
			single, haveOne = v, true
			continue
		}
		ext := strings.HasSuffix(rest, "*")
		n, err := strconv.Atoi(strings.TrimSuffix(rest, "*"))
		if err != nil {
			continue
		}
		sections[n], extended[n] = v, ext
	}
	if haveOne {
		charset, text := splitCharset(single)
		return decodeCharset(charset, percentDecode(text))
	}
	if _, ok := sections[0]; !ok {
		return ""
	}
	var charset string
	var b []byte
	for n := 0; ; n++ {
		v, ok := sections[n]
		if !ok {
			break
		}
		if !extended[n] {
			b = append(b, v...)
			continue
		}
		if n == 0 {
			charset, v = splitCharset(v)
		}
		b = append(b, percentDecode(v)...)
	}
	return decodeCharset(charset, b)
}

// splitParams splits a header value at the semicolons that are not inside
// a quoted string.
func splitParams(s string) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case c == '\\' && quoted:
			escaped = true
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	v = v[1 : len(v)-1]
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// splitCharset splits "charset'language'text"; a value without the two
// quotes is all text.
func splitCharset(v string) (charset, text string) {
	cs, rest, ok := strings.Cut(v, "'")
	if !ok {
		return "", v
	}
	_, text, ok = strings.Cut(rest, "'")
	if !ok {
		return "", v
	}
	return cs, text
}

// percentDecode decodes %XX escapes and keeps a stray '%' as it is.
func percentDecode(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return b
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	default:
		return c - 'a' + 10
	}
}
