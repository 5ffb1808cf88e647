package extract

import (
	"net/textproto"
	"strings"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/mediatype"
)

// headers returns the message's top-level header fields, decoded.
func headers(env *enmime.Envelope) map[string][]string {
	h := make(map[string][]string)
	for _, key := range env.GetHeaderKeys() {
		key = textproto.CanonicalMIMEHeaderKey(key)
		h[key] = env.GetHeaderValues(key)
	}
	return h
}

// maxBodyBytes bounds each body kept for rules and body output; what lies
// beyond is not searched or written. Bodies of business mail are far
// smaller; a hostile one must not double the memory a message costs.
const maxBodyBytes = 4 << 20

// bodies returns the first text/plain and the first text/html body part:
// leaves that are not files (no name, no attachment disposition), decoded
// from their transfer encoding and charset to UTF-8.
func bodies(env *enmime.Envelope, ps *parts) (text, html string) {
	attached := make(map[*enmime.Part]bool, len(env.Attachments))
	for _, p := range env.Attachments {
		attached[p] = true
	}
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
		dst := &text
		switch kind {
		case "text/plain":
		case "text/html":
			dst = &html
		default:
			continue
		}
		if *dst != "" {
			continue
		}
		// Enough of the content to decode maxBodyBytes from whatever its
		// encoding; a quoted-printable escape cut short lies past them.
		content, _ := decodeTransfer(p.Header.Get("Content-Transfer-Encoding"), ps.content(p, 3*maxBodyBytes+16))
		if len(content) > maxBodyBytes {
			content = content[:maxBodyBytes]
		}
		_, params, _, _ := mediatype.Parse(headerText(p.Header.Get("Content-Type")))
		*dst = decodeCharset(params["charset"], content)
	}
	return text, html
}
