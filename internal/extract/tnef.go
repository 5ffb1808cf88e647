package extract

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// TNEF (winmail.dat, application/ms-tnef) is how Outlook sends rich-text
// mail: the attachments a person sees are inside it, in a stream of
// attributes laid out in Microsoft's MS-OXTNEF. readTNEF reads the
// stream where it lies, a window at a time, and returns where each
// attachment's content lies in it, so that nothing is copied and memory
// does not grow with the stream: only names are read, each bounded.
// Hostile streams are bounded by the stream's own size (every loop moves
// forward) and by maxTNEFFiles.

const (
	tnefSignature = 0x223e9f78

	// Attribute levels and the attributes read (ID and type, as written).
	tnefLevelMessage     = 1
	tnefLevelAttachment  = 2
	attAttachData        = 0x0006800f
	attAttachTitle       = 0x00018010
	attAttachRendData    = 0x00069002
	attAttachment        = 0x00069005
	attOemCodepage       = 0x00069007
	tnefAttributeHeader  = 1 + 4 + 4 // level, ID, length
	tnefAttributeTrailer = 2         // checksum

	// MAPI property types and the attachment properties read.
	ptI2                 = 0x0002
	ptLong               = 0x0003
	ptR4                 = 0x0004
	ptDouble             = 0x0005
	ptCurrency           = 0x0006
	ptAppTime            = 0x0007
	ptError              = 0x000a
	ptBoolean            = 0x000b
	ptObject             = 0x000d
	ptI8                 = 0x0014
	ptString8            = 0x001e
	ptUnicode            = 0x001f
	ptSysTime            = 0x0040
	ptCLSID              = 0x0048
	ptBinary             = 0x0102
	ptMultiple           = 0x1000
	prAttachDataObj      = 0x3701 // PT_BINARY: the content; PT_OBJECT: an attached message
	prAttachFilename     = 0x3704
	prAttachMethod       = 0x3705
	prAttachLongFilename = 0x3707
	prAttachMIMETag      = 0x370e
	prDisplayName        = 0x3001
	attachEmbeddedMsg    = 5

	// maxTNEFFiles bounds the attachments taken from one stream; a
	// stream with more is kept whole, with a defect.
	maxTNEFFiles = 1000
	// maxTNEFName bounds a name read; a longer one is cut.
	maxTNEFName = 1024
)

// ExpandTNEF replaces every TNEF file (winmail.dat) among m.Files by the
// files inside it, in order, for a task that opens winmail.dat but not
// attached messages (ExpandNested(true) does both, at every depth).
// Attached messages inside are not taken out:
// a stream that holds one, or that is damaged, is kept whole beside the
// files that could be taken, with a defect, so that nothing is lost
// unseen. A stream that holds no files (only Outlook's rich text) is
// dropped: there is nothing in it a person would see as a file. It
// fails, with an error wrapping ErrUnparseable and m.Files unchanged, when the
// message holds more than maxParts parts counting the files in its
// streams.
func (m *Message) ExpandTNEF() error {
	var out []File
	for _, f := range m.Files {
		if !isTNEF(f) {
			out = append(out, f)
			continue
		}
		inside, whole, err := m.tnefFiles(f)
		if err != nil {
			return err
		}
		out = append(out, inside...)
		if whole != nil {
			out = append(out, *whole)
		}
	}
	m.Files = out
	return nil
}

// isTNEF reports whether f is a TNEF stream, by its type or Outlook's
// name for it.
func isTNEF(f File) bool {
	switch strings.ToLower(f.Name) {
	case "winmail.dat", "win.dat":
		return true
	}
	return f.ContentType == "application/ms-tnef" || f.ContentType == "application/vnd.ms-tnef"
}

// tnefFiles returns the files in the TNEF stream f, and f itself, with a
// defect, when it is to be kept whole too. It fails only when the message
// then holds more than maxParts parts.
func (m *Message) tnefFiles(f File) (inside []File, whole *File, err error) {
	src := f.Open()
	inner, damage, err := readTNEF(src, f.Size)
	if err != nil {
		return nil, &f, nil // unreadable: writing it fails, and the run with it
	}
	var out []File
	var defects []Defect
	if damage != "" {
		defects = append(defects, Defect{DefectTNEF, damage + "; the files before the damage were taken out, " + f.Name + " is kept whole"})
	}
	for _, t := range inner {
		if t.message {
			defects = append(defects, Defect{DefectTNEFMessage, "an attached message inside " + f.Name + " is not taken out; " + f.Name + " is kept whole"})
			continue
		}
		if !t.hasData {
			continue
		}
		ctype := strings.ToLower(strings.TrimSpace(t.mimeTag))
		name := t.name()
		if ctype == "" || !strings.Contains(ctype, "/") {
			ctype = typeOfName(name)
		}
		if strings.TrimSpace(name) == "" {
			name = generatedName(len(out)+1, ctype)
		}
		out = append(out, File{Name: SanitizeName(name), ContentType: ctype, Size: t.data.n, Signature: f.Signature,
			content: io.NewSectionReader(src, t.data.off, t.data.n)})
	}
	// The stream was a part; its files, and itself when kept, are now.
	opened := len(out) - 1
	if len(defects) > 0 {
		for _, d := range defects {
			m.problemf("%s: %s", f.Name, d.Detail)
		}
		f.Defects = append(f.Defects, defects...)
		whole, opened = &f, opened+1
	}
	return out, whole, m.opened(opened, "winmail.dat files")
}

// tnefFile is one attachment in a TNEF stream.
type tnefFile struct {
	title, longName, fileName, displayName string // by where each came from
	mimeTag                                string
	data                                   span64 // the content
	hasData, message                       bool   // message: an attached message, not a file
}

type span64 struct{ off, n int64 }

// name is the best name the attachment has: the long name (Unicode where
// the sender had it), else the 8.3 title, else its display name.
func (f *tnefFile) name() string {
	for _, n := range []string{f.longName, f.fileName, f.title, f.displayName} {
		if strings.TrimSpace(n) != "" {
			return n
		}
	}
	return ""
}

// tnefReader reads a TNEF stream.
type tnefReader struct {
	t        *text
	codepage string // of 8-bit strings
}

// readTNEF returns the attachments of the TNEF stream of size bytes in
// r, and what was wrong with the stream: a stream that ends early, or
// holds something it should not, yields the attachments before the damage.
func readTNEF(r io.ReaderAt, size int64) (files []*tnefFile, damage string, err error) {
	tr := &tnefReader{t: textAt(r, size), codepage: "windows-1252"}
	tr.t.block = 64 << 10
	defer func() {
		if tr.t.err != nil {
			files, damage, err = nil, "", tr.t.err
		}
	}()
	if tr.u32(0) != tnefSignature || size < 6 {
		return nil, "not a TNEF stream (no signature)", nil
	}
	var cur *tnefFile
	for pos := int64(6); pos < size; {
		if size-pos < tnefAttributeHeader+tnefAttributeTrailer {
			return files, fmt.Sprintf("TNEF stream cut short at byte %d", pos), nil
		}
		level, id, n := tr.byte(pos), tr.u32(pos+1), int64(tr.u32(pos+5))
		data := pos + tnefAttributeHeader
		if n > size-data-tnefAttributeTrailer {
			return files, fmt.Sprintf("TNEF attribute at byte %d runs past the end of the stream", pos), nil
		}
		pos = data + n + tnefAttributeTrailer
		switch {
		case level == tnefLevelMessage && id == attOemCodepage && n >= 4:
			tr.codepage = codepageName(tr.u32(data))
		case level != tnefLevelAttachment:
		case id == attAttachRendData:
			if len(files) == maxTNEFFiles {
				return files, fmt.Sprintf("more than %d attachments in the TNEF stream", maxTNEFFiles), nil
			}
			cur = &tnefFile{}
			files = append(files, cur)
		case cur == nil:
			return files, "TNEF attachment attribute before any attachment", nil
		case id == attAttachTitle:
			cur.title = tr.string8(data, n)
		case id == attAttachData:
			cur.data, cur.hasData = span64{data, n}, true
		case id == attAttachment:
			if problem := tr.attachmentProps(cur, data, data+n); problem != "" {
				return files, problem, nil
			}
		}
	}
	return files, "", nil
}

// attachmentProps reads the MAPI properties of an attachment in
// [pos, end): its names, its type, how it is attached, and its content
// when it is there and not in attAttachData.
func (tr *tnefReader) attachmentProps(f *tnefFile, pos, end int64) string {
	bad := func() string { return fmt.Sprintf("damaged MAPI properties in the TNEF stream at byte %d", pos) }
	if end-pos < 4 {
		return bad()
	}
	count := int64(tr.u32(pos))
	pos += 4
	for ; count > 0; count-- {
		if end-pos < 4 {
			return bad()
		}
		typ, id := tr.u16(pos), tr.u16(pos+2)
		pos += 4
		if id >= 0x8000 { // a named property: GUID, kind, and an ID or a name
			if end-pos < 20 {
				return bad()
			}
			kind := tr.u32(pos + 16)
			pos += 20
			switch kind {
			case 0:
				pos += 4
			case 1:
				if end-pos < 4 {
					return bad()
				}
				pos += 4 + pad4(int64(tr.u32(pos)))
			default:
				return bad()
			}
		}
		values, fixed := int64(1), fixedSize(typ&^ptMultiple)
		if typ&ptMultiple != 0 || fixed < 0 {
			if end-pos < 4 {
				return bad()
			}
			values = int64(tr.u32(pos))
			pos += 4
		}
		for ; values > 0; values-- {
			if pos > end {
				return bad()
			}
			n := fixed
			if n < 0 {
				if end-pos < 4 {
					return bad()
				}
				n = int64(tr.u32(pos))
				pos += 4
			}
			if n > end-pos {
				return bad()
			}
			tr.property(f, typ, id, pos, n)
			pos += pad4(n)
		}
	}
	if pos > end {
		return bad()
	}
	return ""
}

// property takes the value at [pos, pos+n) of property id of type typ,
// if it is one an attachment is read for.
func (tr *tnefReader) property(f *tnefFile, typ, id uint16, pos, n int64) {
	str := func() string {
		switch typ {
		case ptUnicode:
			return tr.unicode(pos, n)
		case ptString8:
			return tr.string8(pos, n)
		}
		return ""
	}
	switch id {
	case prAttachLongFilename:
		f.longName = str()
	case prAttachFilename:
		f.fileName = str()
	case prDisplayName:
		f.displayName = str()
	case prAttachMIMETag:
		f.mimeTag = str()
	case prAttachMethod:
		if typ == ptLong && n == 4 && tr.u32(pos) == attachEmbeddedMsg {
			f.message = true
		}
	case prAttachDataObj:
		switch typ {
		case ptBinary:
			if !f.hasData {
				f.data, f.hasData = span64{pos, n}, true
			}
		case ptObject:
			f.message = true
		}
	}
}

// fixedSize is the size of a value of a fixed-size type, -1 for a type
// whose values are counted and sized.
func fixedSize(typ uint16) int64 {
	switch typ {
	case ptI2, ptLong, ptR4, ptError, ptBoolean:
		return 4
	case ptDouble, ptCurrency, ptAppTime, ptI8, ptSysTime:
		return 8
	case ptCLSID:
		return 16
	}
	return -1
}

// pad4 is n rounded up to a multiple of 4, as every value is padded.
func pad4(n int64) int64 { return n + (-n & 3) }

func (tr *tnefReader) byte(pos int64) byte { return tr.bytes(pos, 1)[0] }

func (tr *tnefReader) u16(pos int64) uint16 { return binary.LittleEndian.Uint16(tr.bytes(pos, 2)) }

func (tr *tnefReader) u32(pos int64) uint32 { return binary.LittleEndian.Uint32(tr.bytes(pos, 4)) }

// bytes is the n bytes at pos; zeros past the end of the stream, which
// callers have checked for.
func (tr *tnefReader) bytes(pos, n int64) []byte {
	b := tr.t.slice(int(pos), int(pos+n))
	if int64(len(b)) < n {
		return make([]byte, n)
	}
	return b
}

// string8 is an 8-bit string in the stream's code page.
func (tr *tnefReader) string8(pos, n int64) string {
	return decodeString8(tr.codepage, tr.bytes(pos, min(n, maxTNEFName)))
}

// unicode is a UTF-16LE string.
func (tr *tnefReader) unicode(pos, n int64) string {
	return decodeUTF16LE(tr.bytes(pos, min(n, 2*maxTNEFName)))
}

// decodeString8 is the 8-bit string in b, in codepage, up to a NUL: the
// strings of Outlook's MAPI properties, in TNEF and in .msg files alike.
func decodeString8(codepage string, b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return decodeCharset(codepage, b)
}

// decodeUTF16LE is the UTF-16LE string in b, up to a NUL.
func decodeUTF16LE(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// codepageName names a Windows code page for decodeCharset.
func codepageName(cp uint32) string {
	switch {
	case cp == 65001:
		return "utf-8"
	case cp == 20127:
		return "us-ascii"
	case cp == 932:
		return "shift_jis"
	case cp == 936:
		return "gbk"
	case cp == 949:
		return "euc-kr"
	case cp == 950:
		return "big5"
	case cp >= 28591 && cp <= 28606:
		return fmt.Sprintf("iso-8859-%d", cp-28590)
	case cp >= 1250 && cp <= 1258:
		return fmt.Sprintf("windows-%d", cp)
	case cp == 437 || cp == 850 || cp == 852 || cp == 866:
		return fmt.Sprintf("ibm%d", cp)
	}
	return "windows-1252"
}
