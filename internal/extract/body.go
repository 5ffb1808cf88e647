package extract

import (
	"net/textproto"
	"strings"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/mediatype"
)

// headers returns the message's top-level header fields, decoded (see
// headerValue).
func headers(env *enmime.Envelope) map[string][]string {
	h := make(map[string][]string)
	for _, key := range env.GetHeaderKeys() {
		values := env.GetHeaderValues(key)
		for i, v := range values {
			if !utf8.ValidString(v) && i < len(env.Root.Header[key]) {
				values[i] = decodeWords(headerText(env.Root.Header[key][i]))
			}
		}
		h[textproto.CanonicalMIMEHeaderKey(key)] = values
	}
	return h
}

// headerValue is the top-level header field key, its encoded-words
// decoded. Scan-to-mail devices and fax gateways write 8-bit bytes raw,
// no charset declared ("Subject: Scan f\xfcr M\xfcller"): a value that is
// not UTF-8 is read as headerText reads one first, so that rules, names
// and the sidecar see the text the sender meant.
func headerValue(env *enmime.Envelope, key string) string {
	if v := env.GetHeader(key); utf8.ValidString(v) {
		return v
	}
	return decodeWords(headerText(env.Root.Header.Get(key)))
}

// maxBodyBytes bounds each body kept for rules and body output; what lies
// beyond is not searched or written. Bodies of business mail are far
// smaller; a hostile one must not double the memory a message costs.
const maxBodyBytes = 4 << 20

// bodies returns the text/plain and the text/html body: leaves that are
// not files (no name, no attachment disposition), decoded from their
// transfer encoding and charset to UTF-8. Each is the first leaf of its
// kind, with the leaves of that kind beside it in the same multipart that
// is not an alternative: Apple Mail and iOS Mail cut the text where a file
// is dropped into it (mixed { text, file, text }), and a reader shows the
// pieces one after the other.
func bodies(env *enmime.Envelope, ps *parts) (text, html string) {
	attached := make(map[*enmime.Part]bool, len(env.Attachments))
	for _, p := range env.Attachments {
		attached[p] = true
	}
	var first [2]*enmime.Part // of the text, of the HTML
	leaves := env.Root.DepthMatchAll(func(p *enmime.Part) bool { return p.FirstChild == nil })
	for _, p := range leaves {
		disp, name := partName(p.Header)
		if name != "" || disp == "attachment" || attached[p] {
			continue
		}
		kind := strings.ToLower(p.ContentType)
		if kind == "" && p.Parent == nil {
			kind = "text/plain"
		}
		i, dst := 0, &text
		switch kind {
		case "text/plain":
		case "text/html":
			i, dst = 1, &html
		default:
			continue
		}
		switch f := first[i]; {
		case f == nil:
			first[i] = p
		case p.Parent != f.Parent || p.Parent.ContentType == "multipart/alternative":
			continue
		}
		room := maxBodyBytes - len(*dst)
		if room <= 0 {
			continue
		}
		// Enough of the content to decode room bytes from whatever its
		// encoding; a quoted-printable escape cut short lies past them.
		content, _ := decodeTransfer(p.Header.Get("Content-Transfer-Encoding"), ps.content(p, 3*room+16))
		_, params, _, _ := mediatype.Parse(headerText(p.Header.Get("Content-Type")))
		*dst += decodeCharset(params["charset"], content[:min(len(content), room)])
	}
	return text, html
}
