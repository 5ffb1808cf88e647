package extract

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/jhillyerd/enmime/v2"
)

// files returns the parts worth saving, in MIME order: every part with a
// file name, whatever enmime filed it under (an inline image with a name is
// a real file, a named text/plain part too), and every part that is an
// attachment without one. Body parts without a name, and inline parts
// without a name (signature logos referenced by cid:), are not files,
// except a message: an unnamed message shown in the text (an inline
// forward, a member of a multipart/digest) is a file when it holds files,
// so that they are not lost (see heldMessage); and the encrypted data of
// a PGP/MIME message and the data fork of an AppleDouble file are files,
// named or not, while the AppleDouble's header fork is none (encrypted.go,
// appledouble.go). depth is how deep the message itself is nested in the
// one the pipeline fetched.
//
// Each part's content is released once decoded, so that the raw and the
// decoded form of the same attachment are not both held for long. The
// content enmime did not see stays where it is unless the message is in
// memory anyway: it is decoded when the File is read.
func (m *Message) files(env *enmime.Envelope, ps *parts, depth int) []File {
	attached := make(map[*enmime.Part]bool, len(env.Attachments))
	for _, p := range env.Attachments {
		attached[p] = true
	}
	leaves := env.Root.DepthMatchAll(func(p *enmime.Part) bool { return p.FirstChild == nil })
	cids := cidRefs(m.HTML)
	var files []File
	for _, p := range leaves {
		if strings.HasPrefix(p.ContentType, "multipart/") {
			if len(strings.TrimSpace(string(p.Content))) > 0 {
				m.problemf("part %s: %s without a usable boundary, its content is not split into parts", p.PartID, p.ContentType)
			}
			continue
		}
		disp, name := partName(p.Header)
		ctype := contentType(p)
		fork := inAppleDouble(p)
		if isHeaderFork(p, ctype) {
			continue
		}
		if fork && name == "" {
			name = headerForkName(p)
		}
		// A message that is an S/MIME envelope is the message inside it.
		envelope := p.Parent == nil && isSMIME(ctype, name)
		pgp := isPGPData(p, ctype)
		shown := name == "" && disp != "attachment" && !attached[p] && !envelope && !pgp && !fork
		if shown && ctype != "message/rfc822" {
			if ctype == "text/plain" {
				files = append(files, m.uuFiles(ps, p, len(files)+1)...)
			}
			continue
		}
		if name == "" {
			gen := ctype
			if pgp {
				gen = "application/pgp-encrypted" // ASCII armour, whatever type it declares
			}
			name = generatedName(len(files)+1, gen)
		}
		f := File{Name: SanitizeName(name), ContentType: ctype, Inline: shownInText(p, disp, ctype, cids)}
		problem := ps.decode(&f, p)
		p.Content = nil
		if shown && !m.heldMessage(f, depth+1) {
			continue
		}
		if envelope {
			if inner, ok := m.signedMessage(f, depth+1); ok {
				m.Text, m.HTML = cmp.Or(m.Text, inner.Text), cmp.Or(m.HTML, inner.HTML)
				files = append(files, inner.Files...)
				continue
			}
		}
		if d, ok := encryptedDefect(p, ctype, name, f); ok {
			f.Defects = append(f.Defects, d)
			m.problemf("part %s (%s): %s", p.PartID, f.Name, d.Detail)
		}
		if problem != "" {
			enc, _ := transferEncoding(p.Header.Get("Content-Transfer-Encoding"))
			f.Defects = append(f.Defects, encodingDefect(enc, problem))
			m.problemf("part %s (%s): %s", p.PartID, f.Name, problem)
		}
		files = append(files, f)
	}
	return files
}

// uuFiles returns the files uuencoded in the text body p, numbered from
// n on where they have no name, noting their defects as problems.
func (m *Message) uuFiles(ps *parts, p *enmime.Part, n int) []File {
	files, problem := ps.uuFiles(p, n)
	if problem != "" {
		m.problemf("part %s: %s", p.PartID, problem)
	}
	for _, f := range files {
		for _, d := range f.Defects {
			m.problemf("part %s (%s): %s", p.PartID, f.Name, d.Detail)
		}
	}
	return files
}

// heldMessage reports whether f, an unnamed message shown in the text of
// a message, is to be saved: when it holds files, at any depth. One that
// cannot be parsed holds nothing worth saving; one nested too deep to look
// into is kept, so that nothing is lost unseen.
func (m *Message) heldMessage(f File, depth int) bool {
	if depth > maxNesting {
		m.problemf("message %s nested more than %d deep, kept whole", f.Name, maxNesting)
		return true
	}
	inner, err := parseNested(textAt(f.Open(), f.Size), depth)
	return err == nil && len(inner.Files) > 0
}

// decode gives f the content of p, transfer-decoded.
func (ps *parts) decode(f *File, p *enmime.Part) (problem string) {
	cte := p.Header.Get("Content-Transfer-Encoding")
	s, elided := ps.elided[p]
	enc, problem := transferEncoding(cte)
	switch {
	case !elided || ps.t.whole && enc != encBase64:
		content, problem := decodeTransfer(cte, ps.content(p, math.MaxInt))
		f.Size, f.content = int64(len(content)), bytes.NewReader(content)
		return problem
	case enc == encBase64:
		b, problem, err := scanBase64(ps.t.r, int64(s.start), int64(s.end))
		if err != nil {
			ps.t.fail(err)
			return ""
		}
		f.Size, f.content = b.size, b
		return problem
	case enc == encQuotedPrintable:
		b, err := scanQuotedPrintable(ps.t.r, int64(s.start), int64(s.end))
		if err != nil {
			ps.t.fail(err)
			return ""
		}
		f.Size, f.content = b.size, b
		return problem
	case enc == encUUencode:
		b, problem, err := uuPart(ps.t.r, int64(s.start), int64(s.end))
		switch {
		case err != nil:
			ps.t.fail(err)
			return ""
		case b == nil:
			f.Size, f.content = int64(s.end-s.start), io.NewSectionReader(ps.t.r, int64(s.start), int64(s.end-s.start))
		default:
			f.Size, f.content = b.size, b
		}
		return problem
	default:
		f.Size, f.content = int64(s.end-s.start), io.NewSectionReader(ps.t.r, int64(s.start), int64(s.end-s.start))
		return problem
	}
}

// contentType is the part's declared media type, or the RFC 2046 default
// when it declares none.
func contentType(p *enmime.Part) string {
	switch {
	case p.ContentType != "":
		return strings.ToLower(p.ContentType)
	case p.Parent != nil && p.Parent.ContentType == "multipart/digest":
		return "message/rfc822"
	default:
		return "text/plain"
	}
}

// extensions maps the media types common in business mail to the extension
// a generated name gets. A fixed table rather than mime.ExtensionsByType
// keeps names the same on every host, whatever its mime.types says.
var extensions = map[string]string{
	"application/pdf":              "pdf",
	"text/csv":                     "csv",
	"image/png":                    "png",
	"image/jpeg":                   "jpg",
	"image/gif":                    "gif",
	"image/tiff":                   "tif",
	"text/plain":                   "txt",
	"text/html":                    "html",
	"text/calendar":                "ics",
	"application/xml":              "xml",
	"text/xml":                     "xml",
	"application/json":             "json",
	"application/zip":              "zip",
	"application/x-zip-compressed": "zip",
	"message/rfc822":               "eml",
	"application/pkcs7-mime":       "p7m",
	"application/x-pkcs7-mime":     "p7m",
	"application/ms-tnef":          "dat",
	"application/pgp-encrypted":    "asc",
	"application/msword":           "doc",
	"application/vnd.ms-excel":     "xls",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":       "xlsx",
}

// generatedName names the n-th file of a message (1-based) when the sender
// gave it no name. It depends only on the message, so a re-run after a crash
// produces the same name and the sink recognises the file as already there.
func generatedName(n int, ctype string) string {
	ext, ok := extensions[ctype]
	if !ok {
		ext = "bin"
	}
	return fmt.Sprintf("attachment-%d.%s", n, ext)
}
