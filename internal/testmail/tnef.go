package testmail

import (
	"bytes"
	"encoding/binary"
	"strings"
	"unicode/utf16"
)

// TNEFFile is one attachment of a TNEF stream built by TNEF.
type TNEFFile struct {
	Name     string // the long name, PR_ATTACH_LONG_FILENAME
	Title    string // the short name, attAttachTitle; default: Name cut to 8.3
	MIMEType string // PR_ATTACH_MIME_TAG, if any
	Content  []byte
	// String8 writes the long name as an 8-bit string in windows-1252
	// rather than in UTF-16, as older Outlook versions do.
	String8 bool
	// Message makes the attachment an attached message (Content is then
	// the TNEF stream of that message), as Outlook sends a forwarded mail.
	Message bool
}

// TNEF builds a winmail.dat as Outlook writes it (MS-OXTNEF): the
// version, code page and message class, then each attachment's rendering
// data, title, content and MAPI properties, every attribute with its
// checksum.
func TNEF(files ...TNEFFile) []byte {
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	le(uint32(0x223e9f78))
	le(uint16(0x0501))
	attr := func(level byte, id uint32, data []byte) {
		b.WriteByte(level)
		le(id)
		le(uint32(len(data)))
		b.Write(data)
		var sum uint16
		for _, c := range data {
			sum += uint16(c)
		}
		le(sum)
	}
	attr(1, 0x00089006, u32s(0x00010000))                // attTnefVersion
	attr(1, 0x00069007, u32s(1252, 0))                   // attOemCodepage
	attr(1, 0x00078008, cstr("IPM.Microsoft Mail.Note")) // attMessageClass
	for _, f := range files {
		attr(2, 0x00069002, append(u16s(1), append(u32s(0xffffffff), append(u16s(0, 0), u32s(0)...)...)...)) // attAttachRendData
		title := f.Title
		if title == "" {
			title = shortName(f.Name)
		}
		attr(2, 0x00018010, cstr(title)) // attAttachTitle
		if !f.Message {
			attr(2, 0x0006800f, f.Content) // attAttachData
		}
		attr(2, 0x00069005, attachmentProps(f)) // attAttachment
	}
	return b.Bytes()
}

// attachmentProps are the MAPI properties of an attachment, with a named
// property and a multi-valued one among them, as Outlook writes them.
func attachmentProps(f TNEFFile) []byte {
	var p props
	method := uint32(1) // ATTACH_BY_VALUE
	if f.Message {
		method = 5 // ATTACH_EMBEDDED_MSG
	}
	p.fixed(0x0003, 0x3705, u32s(method)) // PR_ATTACH_METHOD
	if f.String8 {
		p.variable(0x001e, 0x3707, cstr(latin1(f.Name))) // PR_ATTACH_LONG_FILENAME
	} else {
		p.variable(0x001f, 0x3707, utf16z(f.Name))
	}
	p.variable(0x001f, 0x3001, utf16z(f.Name)) // PR_DISPLAY_NAME
	if f.MIMEType != "" {
		p.variable(0x001e, 0x370e, cstr(f.MIMEType)) // PR_ATTACH_MIME_TAG
	}
	p.named(0x001f, "x-mailtask-test", utf16z("named value"))
	p.multi(0x1003, 0x7ffa, u32s(1), u32s(2), u32s(3)) // a PT_MV_LONG
	if f.Message {
		iid := []byte{0x07, 0x03, 0x02, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46} // IID_IMessage
		p.variable(0x000d, 0x3701, append(iid, f.Content...))                        // PR_ATTACH_DATA_OBJ
	}
	return p.bytes()
}

// props is a counted list of MAPI properties being written.
type props struct {
	n int
	b bytes.Buffer
}

func (p *props) tag(typ, id uint16) {
	p.n++
	p.b.Write(u16s(typ, id))
}

func (p *props) fixed(typ, id uint16, v []byte) {
	p.tag(typ, id)
	p.b.Write(padded(v))
}

func (p *props) variable(typ, id uint16, v []byte) {
	p.tag(typ, id)
	p.b.Write(u32s(1, uint32(len(v))))
	p.b.Write(padded(v))
}

func (p *props) multi(typ, id uint16, vs ...[]byte) {
	p.tag(typ, id)
	p.b.Write(u32s(uint32(len(vs))))
	for _, v := range vs {
		p.b.Write(padded(v))
	}
}

func (p *props) named(typ uint16, name string, v []byte) {
	p.tag(typ, 0x8001)
	p.b.Write(bytes.Repeat([]byte{0x42}, 16)) // the property set's GUID
	n := utf16z(name)
	p.b.Write(u32s(1, uint32(len(n))))
	p.b.Write(padded(n))
	p.b.Write(u32s(1, uint32(len(v))))
	p.b.Write(padded(v))
}

func (p *props) bytes() []byte { return append(u32s(uint32(p.n)), p.b.Bytes()...) }

func padded(v []byte) []byte { return append(bytes.Clone(v), make([]byte, -len(v)&3)...) }

func u16s(vs ...uint16) []byte {
	b := make([]byte, 2*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	return b
}

func u32s(vs ...uint32) []byte {
	b := make([]byte, 4*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint32(b[4*i:], v)
	}
	return b
}

func cstr(s string) []byte { return append([]byte(s), 0) }

func utf16z(s string) []byte {
	u := append(utf16.Encode([]rune(s)), 0)
	return u16s(u...)
}

// latin1 is s in windows-1252, as far as it goes.
func latin1(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x100 {
			b.WriteByte(byte(r))
		} else {
			b.WriteByte('?')
		}
	}
	return b.String()
}

// shortName is name cut to 8.3, as attAttachTitle holds it.
func shortName(name string) string {
	stem, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		stem, ext = name[:i], name[i:]
	}
	stem = strings.Map(func(r rune) rune {
		if r < 0x80 && r != ' ' {
			return r
		}
		return -1
	}, stem)
	if len(stem) > 8 {
		stem = stem[:6] + "~1"
	}
	if len(ext) > 4 {
		ext = ext[:4]
	}
	return strings.ToUpper(stem + ext)
}
