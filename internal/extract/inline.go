package extract

import (
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

// shownInText reports whether a named part, of disposition disp and type
// ctype, is shown inside the message's text, which `inline = false`
// leaves out: a picture marked inline, or any part the HTML body refers to
// by cid: or keeps beside it in a multipart/related, where Outlook, Gmail
// and Thunderbird put signature logos. A document marked inline among the
// attachments is attached: Apple Mail and iOS Mail mark so every file
// dropped into the text, PDFs too, and a user leaving out logos must not
// lose the invoices an iPhone sends.
func shownInText(p *enmime.Part, disp, ctype, html string) bool {
	switch {
	case disp == "attachment":
		return false
	case p.Parent != nil && p.Parent.ContentType == "multipart/related":
		return true
	case p.ContentID != "" && (strings.Contains(html, "cid:"+p.ContentID) || strings.Contains(html, "CID:"+p.ContentID)):
		return true
	}
	return disp == "inline" && strings.HasPrefix(ctype, "image/")
}
