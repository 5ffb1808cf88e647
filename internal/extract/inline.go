package extract

import (
	"net/url"
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

// shownInText reports whether a named part, of disposition disp and type
// ctype, is shown inside the message's text, which `inline = false`
// leaves out: a picture marked inline, or any part the HTML body refers to
// by cid: (cids, cidRefs) or keeps beside it in a multipart/related, where
// Outlook, Gmail and Thunderbird put signature logos. A document marked
// inline among the attachments is attached: Apple Mail and iOS Mail mark
// so every file dropped into the text, PDFs too, and a user leaving out
// logos must not lose the invoices an iPhone sends.
func shownInText(p *enmime.Part, disp, ctype string, cids map[string]bool) bool {
	switch {
	case disp == "attachment":
		return false
	case p.Parent != nil && p.Parent.ContentType == "multipart/related":
		return true
	case p.ContentID != "" && cids[p.ContentID]:
		return true
	}
	return disp == "inline" && strings.HasPrefix(ctype, "image/")
}

// maxCIDLen bounds the Content-ID read after a "cid:" in the HTML; real
// ones are tens of bytes, and an unbounded read of each would make an
// HTML of colons cost its length squared.
const maxCIDLen = 998

// cidRefs returns the Content-IDs html refers to with cid: URLs (RFC
// 2392), as written and unescaped as enmime unescapes a part's, in one
// pass: each part's look-up is then a map's, whatever the number of parts
// and the length of the HTML.
func cidRefs(html string) map[string]bool {
	refs := map[string]bool{}
	for i := 0; ; {
		j := strings.IndexByte(html[i:], ':')
		if j < 0 {
			return refs
		}
		colon := i + j
		i = colon + 1
		if colon < 3 || !strings.EqualFold(html[colon-3:colon], "cid") {
			continue
		}
		id := html[i:min(len(html), i+maxCIDLen)]
		if end := strings.IndexAny(id, "\"'<> \t\r\n)"); end >= 0 {
			id = id[:end]
		}
		refs[id] = true
		if u, err := url.QueryUnescape(id); err == nil {
			refs[u] = true
		}
	}
}
