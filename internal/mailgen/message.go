package mailgen

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Fixture is one generated message and what extracting it should give.
type Fixture struct {
	Name  string   // short description, e.g. "invoice-pdf"
	Raw   []byte   // the complete message, CRLF line endings unless the fixture is about them
	Files []string // file names a correct extractor produces, in MIME order, before de-duplication
	// Automatic is the kind of automatic mail the message is ("delivery-report",
	// "auto-reply", "read-receipt"), which a task skips by default; "" for
	// mail a task takes.
	Automatic string
	// QuarantineNotice marks Microsoft 365's notice that it holds mail for
	// the mailbox in quarantine, and QuarantineHeld is how many held
	// messages its body says it lists (0: it does not say so in words a
	// reader can rely on). A task takes such a notice, and warns.
	QuarantineNotice bool
	QuarantineHeld   int
}

// Attachment is one file of a message.
type Attachment struct {
	Name        string
	ContentType string // default application/octet-stream
	Content     []byte
	Inline      bool // Content-Disposition: inline (with the file name) instead of attachment
}

// Envelope is the top-level header of a message.
type Envelope struct {
	From, To mail.Address
	Subject  string
	Date     time.Time
	ID       string // Message-ID without <>
}

// Message is the whole message: the envelope's header fields, then
// body's.
func (env Envelope) Message(body Entity) []byte {
	h := Header{
		{"Date", env.Date.Format(time.RFC1123Z)},
		{"From", env.From.String()},
		{"To", env.To.String()},
		{"Subject", mime.QEncoding.Encode("UTF-8", env.Subject)},
		{"Message-ID", "<" + env.ID + ">"},
		{"MIME-Version", "1.0"},
	}
	return Entity{Header: append(h, body.Header...), Body: body.Body}.Bytes()
}

// Header is an ordered list of header fields.
type Header []Field

// Field is one header field. A field without a key is written as a raw
// line, for malformed headers.
type Field struct{ Key, Value string }

// Entity is one MIME entity with its body already transfer-encoded.
type Entity struct {
	Header Header
	Body   []byte
}

// Bytes is the entity as it goes on the wire: header, blank line, body.
func (e Entity) Bytes() []byte {
	var b bytes.Buffer
	for _, f := range e.Header {
		if f.Key != "" {
			b.WriteString(f.Key + ": ")
		}
		b.WriteString(f.Value + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(e.Body)
	return b.Bytes()
}

// Multipart joins parts under a boundary derived from their bytes, so it
// is deterministic and differs between nesting levels.
func Multipart(subtype string, parts ...Entity) Entity {
	raw := make([][]byte, len(parts))
	h := sha256.New()
	for i, p := range parts {
		raw[i] = p.Bytes()
		h.Write(raw[i])
	}
	boundary := "=_mt_" + hex.EncodeToString(h.Sum(nil)[:12])
	var b bytes.Buffer
	for _, p := range raw {
		b.WriteString("--" + boundary + "\r\n")
		b.Write(p)
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return Entity{Header: Header{{"Content-Type", `multipart/` + subtype + `; boundary="` + boundary + `"`}}, Body: b.Bytes()}
}

// TextPart is a text/plain part: 7bit when text is ASCII, else UTF-8
// quoted-printable.
func TextPart(text string) Entity { return textEntity("text/plain", text) }

// HTMLPart is a text/html part holding a page whose body is html.
func HTMLPart(html string) Entity {
	return textEntity("text/html", "<!DOCTYPE html>\n<html><body>"+html+"</body></html>\n")
}

func textEntity(ctype, text string) Entity {
	if isASCII(text) {
		return Entity{Header: Header{{"Content-Type", ctype + "; charset=us-ascii"}, {"Content-Transfer-Encoding", "7bit"}}, Body: CRLF(text)}
	}
	return Entity{Header: Header{{"Content-Type", ctype + "; charset=utf-8"}, {"Content-Transfer-Encoding", "quoted-printable"}}, Body: quotedPrintable(text)}
}

// QuotedPrintableAttachment is a text file attached quoted-printable, as
// mail clients send text attachments.
func QuotedPrintableAttachment(name, text string) Entity {
	return Entity{Header: Header{
		{"Content-Type", `text/plain; charset=utf-8; name="` + name + `"`},
		{"Content-Disposition", `attachment; filename="` + name + `"`},
		{"Content-Transfer-Encoding", "quoted-printable"},
	}, Body: quotedPrintable(text)}
}

// InlineImage is a PNG referenced by cid: and carrying no file name, as
// mail clients embed signature logos: not a file to save.
func InlineImage(png []byte, cid string) Entity {
	return Entity{Header: Header{
		{"Content-Type", "image/png"},
		{"Content-Disposition", "inline"},
		{"Content-ID", "<" + cid + ">"},
		{"Content-Transfer-Encoding", "base64"},
	}, Body: Base64Lines(png)}
}

// NameStyle is how an attachment's file name is put into its header.
type NameStyle int

// The ways mail clients name an attachment.
const (
	NamePlain    NameStyle = iota // name= and filename= quoted; RFC 2231 filename*= when not printable ASCII
	Name2231                      // filename*=UTF-8''…, as Outlook and Thunderbird send non-ASCII names
	Name2047                      // name= and filename= as RFC 2047 encoded words, which many clients send though RFC 2047 forbids it
	NameTypeOnly                  // only Content-Type name=, no Content-Disposition; RFC 2047 when not printable ASCII
)

// AttachmentPart is the part that carries a, base64 encoded, its name
// spelled as style says.
func AttachmentPart(a Attachment, style NameStyle) Entity {
	ctype := a.ContentType
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	disp := "attachment"
	if a.Inline {
		disp = "inline"
	}
	quoted, plain := quoteParam(a.Name)
	encoded := `"` + mime.BEncoding.Encode("UTF-8", a.Name) + `"`
	var h Header
	switch {
	case style == NamePlain && plain:
		h = Header{{"Content-Type", ctype + "; name=" + quoted}, {"Content-Disposition", disp + "; filename=" + quoted}}
	case style == NamePlain || style == Name2231:
		h = Header{{"Content-Type", ctype}, {"Content-Disposition", disp + "; filename*=UTF-8''" + PercentEncode(a.Name)}}
	case style == Name2047:
		h = Header{{"Content-Type", ctype + "; name=" + encoded}, {"Content-Disposition", disp + "; filename=" + encoded}}
	case plain:
		h = Header{{"Content-Type", ctype + "; name=" + quoted}}
	default:
		h = Header{{"Content-Type", ctype + "; name=" + encoded}}
	}
	if a.Inline {
		sum := sha256.Sum256([]byte(a.Name))
		h = append(h, Field{"Content-ID", "<" + hex.EncodeToString(sum[:8]) + "@example.test>"})
	}
	h = append(h, Field{"Content-Transfer-Encoding", "base64"})
	return Entity{Header: h, Body: Base64Lines(a.Content)}
}

// quoteParam returns s as an RFC 2045 quoted-string, and whether s can be
// one: printable ASCII only.
func quoteParam(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return "", false
		}
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`, true
}

// PercentEncode encodes s as an RFC 2231 extended value.
func PercentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$&+-.^_`|~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Base64Lines encodes b in lines of 76 characters, each ending in CRLF.
func Base64Lines(b []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(b)
	out := make([]byte, 0, len(enc)+len(enc)/76*2+2)
	for len(enc) > 76 {
		out = append(out, enc[:76]...)
		out = append(out, "\r\n"...)
		enc = enc[76:]
	}
	return append(append(out, enc...), "\r\n"...)
}

func quotedPrintable(text string) []byte {
	var b bytes.Buffer
	w := quotedprintable.NewWriter(&b)
	w.Write([]byte(text))
	w.Close()
	return b.Bytes()
}

func CRLF(text string) []byte {
	return []byte(strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n"))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
