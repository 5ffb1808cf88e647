package extract

import "github.com/jhillyerd/enmime/v2"

// Mac mail clients send a file with its Finder information as
// multipart/appledouble (RFC 1740): an application/applefile part, the
// header fork (type, creator, icon, resource fork), then the file itself,
// the data fork. Both parts usually carry the file's name, so taking every
// named part saves a few bytes of Mac metadata under the file's name and
// the file under a second one ("report (1).pdf"). The header fork is no
// file a person opens: only the data fork is taken, under the name either
// part gives.

// inAppleDouble reports whether p is a fork of an AppleDouble file: its
// data fork is a file whatever its header says.
func inAppleDouble(p *enmime.Part) bool {
	return p.Parent != nil && p.Parent.ContentType == "multipart/appledouble"
}

// isHeaderFork reports whether p, of type ctype, is the header fork of
// an AppleDouble file.
func isHeaderFork(p *enmime.Part, ctype string) bool {
	return ctype == "application/applefile" && inAppleDouble(p)
}

// headerForkName is the name the header fork before p, a data fork, gives
// their file; "" when it gives none.
func headerForkName(p *enmime.Part) string {
	var name string
	for c := p.Parent.FirstChild; c != nil && c != p; c = c.NextSibling {
		if isHeaderFork(c, contentType(c)) {
			_, name = partName(c.Header)
		}
	}
	return name
}
