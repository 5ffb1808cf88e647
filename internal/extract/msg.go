package extract

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// An Outlook item attached as a file (a .msg, application/vnd.ms-outlook)
// is a compound file (cfb.go) laid out as MS-OXMSG says: the message's
// properties in a stream, each attachment in a storage of its own with
// its properties, names and content, an attached message in a storage
// inside its attachment's, holding its own attachments. readMsg reads
// the attachments where they lie, as readTNEF does a winmail.dat's.

const (
	msgPropertiesStream = "__PROPERTIES_VERSION1.0"
	msgAttachPrefix     = "__ATTACH_VERSION1.0_#"
	msgEmbeddedStorage  = "__SUBSTG1.0_3701000D" // an attached message, or an OLE object
	msgDataStream       = "__SUBSTG1.0_37010102"

	// Bytes before the first property of a properties stream: of the
	// message, of an attached message, of an attachment.
	msgHeaderTop      = 32
	msgHeaderEmbedded = 24
	msgHeaderAttach   = 8
	msgPropertySize   = 16
	// maxMsgProperties bounds the properties read of one object; Outlook
	// writes a few dozen.
	maxMsgProperties = 4096

	prMessageCodepage  = 0x3ffd
	prInternetCodepage = 0x3fde
	prAttachmentHidden = 0x7ffe // a picture shown in the text, as Outlook marks one
	attachOLE          = 6
)

// isOutlookMsg reports whether f is an Outlook item: declared as one, or
// named .msg and a compound file (other programs write text they name
// .msg too).
func isOutlookMsg(f File) bool {
	if f.ContentType == "application/vnd.ms-outlook" {
		return true
	}
	if !strings.HasSuffix(strings.ToLower(f.Name), ".msg") {
		return false
	}
	var magic [len(cfbMagic)]byte
	n, _ := f.Open().ReadAt(magic[:], 0)
	return string(magic[:n]) == cfbMagic
}

// outlookFiles returns the files in the Outlook item f, nested depth deep
// in the message, each taken out of what it holds in turn (ExpandNested,
// winmail.dat files too with tnef); and f itself, with a defect, when it
// is to be kept. It fails only when the message then holds more than
// maxParts parts.
func (m *Message) outlookFiles(f File, depth int, tnef bool) ([]File, error) {
	if depth > maxNesting {
		m.problemf("attached Outlook item %s nested more than %d deep, kept whole", f.Name, maxNesting)
		return []File{f}, nil
	}
	items, read, err := readMsg(f.Open(), f.Size, depth, maxParts-m.parts+1)
	if err := m.opened(read, "Outlook items"); err != nil {
		return nil, err
	}
	var damage cfbDamage
	if err != nil && !errors.As(err, &damage) {
		return []File{f}, nil // unreadable: writing it fails, and the run with it
	}
	var out []File
	var defects []Defect
	switch {
	case damage != "" && len(items) > 0:
		defects = append(defects, Defect{DefectMsg, string(damage) + "; the files before the damage were taken out, " + f.Name + " is kept whole"})
	case damage != "":
		defects = append(defects, Defect{DefectMsg, string(damage) + "; " + f.Name + " is kept whole"})
	}
	for _, it := range items {
		if it.kept != "" {
			defects = append(defects, Defect{DefectMsgObject, it.kept + " inside " + f.Name + " is not taken out; " + f.Name + " is kept whole"})
			continue
		}
		ctype := strings.ToLower(strings.TrimSpace(it.mimeTag))
		name := it.name
		if ctype == "" || !strings.Contains(ctype, "/") {
			ctype = typeOfName(name)
		}
		if strings.TrimSpace(name) == "" {
			name = generatedName(len(out)+1, ctype)
		}
		file := File{Name: SanitizeName(name), ContentType: ctype, Inline: it.inline, Size: it.content.size, Signature: f.Signature, content: it.content}
		inside, err := m.expand([]File{file}, it.depth+1, tnef)
		if err != nil {
			return nil, err
		}
		out = append(out, inside...)
	}
	if len(defects) > 0 {
		for _, d := range defects {
			m.problemf("%s: %s", f.Name, d.Detail)
		}
		f.Defects = append(f.Defects, defects...)
		out = append(out, f)
	}
	return out, nil
}

// msgItem is one attachment of an Outlook item: a file, or what is not
// taken out (kept says what).
type msgItem struct {
	name, mimeTag string
	content       *chainReader
	depth         int  // of the message it is attached to
	inline        bool // shown in the text, not beside it
	kept          string
}

// msgReader reads the attachments of an Outlook item.
type msgReader struct {
	c     *cfb
	items []msgItem
	read  int // attachments read, attached messages included
	limit int
}

// readMsg returns the attachments of the Outlook item of size bytes in
// src, nested depth deep, in order, those of attached messages in their
// place; how many it read, up to limit; and what stopped it: a cfbDamage
// for a damaged item (with the attachments before the damage), another
// error when src could not be read.
func readMsg(src io.ReaderAt, size int64, depth, limit int) ([]msgItem, int, error) {
	c, err := openCFB(src, size)
	if err != nil {
		return nil, 0, err
	}
	r := &msgReader{c: c, limit: limit}
	err = r.message(c.entry(0), msgHeaderTop, depth)
	return r.items, r.read, err
}

// message reads the attachments of the message in storage s, whose
// properties stream has a header of header bytes.
func (r *msgReader) message(s cfbEntry, header, depth int) error {
	kids, err := r.c.children(s)
	if err != nil {
		return err
	}
	props, err := r.properties(kids, header)
	if err != nil {
		return err
	}
	codepage := "windows-1252"
	for _, id := range []uint16{prMessageCodepage, prInternetCodepage} {
		if v, ok := props[id]; ok && v.typ == ptLong {
			codepage = codepageName(v.u32())
			break
		}
	}
	var attachments []string
	for name := range kids {
		if strings.HasPrefix(name, msgAttachPrefix) {
			attachments = append(attachments, name)
		}
	}
	slices.Sort(attachments) // the number after # is 8 hex digits
	for _, name := range attachments {
		if r.read == r.limit {
			return nil
		}
		r.read++
		if err := r.attachment(kids[name], codepage, depth); err != nil {
			return err
		}
	}
	return nil
}

// attachment reads the attachment in storage s of a message nested depth
// deep whose 8-bit strings are in codepage.
func (r *msgReader) attachment(s cfbEntry, codepage string, depth int) error {
	if s.typ != cfbTypeStorage {
		return cfbDamaged("attachment %q is not a storage", s.name)
	}
	kids, err := r.c.children(s)
	if err != nil {
		return err
	}
	props, err := r.properties(kids, msgHeaderAttach)
	if err != nil {
		return err
	}
	hidden := props[prAttachmentHidden]
	it := msgItem{depth: depth, inline: hidden.typ == ptBoolean && hidden.value[0] != 0}
	for _, id := range []uint16{prAttachLongFilename, prAttachFilename, prDisplayName} {
		if it.name, err = r.str(kids, id, codepage); err != nil || strings.TrimSpace(it.name) != "" {
			break
		}
	}
	if err != nil {
		return err
	}
	if it.mimeTag, err = r.str(kids, prAttachMIMETag, codepage); err != nil {
		return err
	}
	method := props[prAttachMethod]
	embedded, isEmbedded := kids[msgEmbeddedStorage]
	switch {
	case isEmbedded && method.u32() == attachOLE || isEmbedded && embedded.typ != cfbTypeStorage:
		it.kept = fmt.Sprintf("an OLE object (%q)", it.name)
	case isEmbedded && depth+1 > maxNesting:
		it.kept = fmt.Sprintf("an attached message nested more than %d deep", maxNesting)
	case isEmbedded:
		return r.message(embedded, msgHeaderEmbedded, depth+1)
	default:
		data, ok := kids[msgDataStream]
		if !ok { // attached by reference: a link to a file, not the file
			it.kept = fmt.Sprintf("%q, attached as a link to the file,", it.name)
			break
		}
		if it.content, err = r.c.open(data); err != nil {
			return err
		}
	}
	r.items = append(r.items, it)
	return nil
}

// msgProperty is a property's type and the 8 bytes of its value (for a
// property of variable size, the size of the stream that holds it).
type msgProperty struct {
	typ   uint16
	value [8]byte
}

func (p msgProperty) u32() uint32 { return binary.LittleEndian.Uint32(p.value[:]) }

// properties reads the fixed-size properties in the properties stream
// among kids, after its header.
func (r *msgReader) properties(kids map[string]cfbEntry, header int) (map[uint16]msgProperty, error) {
	e, ok := kids[msgPropertiesStream]
	if !ok {
		return nil, cfbDamaged("no %s stream: not an Outlook item", strings.ToLower(msgPropertiesStream))
	}
	s, err := r.c.open(e)
	if err != nil {
		return nil, err
	}
	n := min(max(s.size-int64(header), 0)/msgPropertySize, maxMsgProperties)
	b := make([]byte, n*msgPropertySize)
	if err := readAtFull(s, b, int64(header)); err != nil {
		return nil, err
	}
	out := map[uint16]msgProperty{}
	for ; len(b) >= msgPropertySize; b = b[msgPropertySize:] {
		p := msgProperty{typ: binary.LittleEndian.Uint16(b)}
		copy(p.value[:], b[8:16])
		out[binary.LittleEndian.Uint16(b[2:])] = p
	}
	return out, nil
}

// str is string property id among kids, Unicode or 8-bit in codepage; ""
// when there is none. Only the first maxTNEFName characters are read.
func (r *msgReader) str(kids map[string]cfbEntry, id uint16, codepage string) (string, error) {
	for _, typ := range []uint16{ptUnicode, ptString8} {
		e, ok := kids[fmt.Sprintf("__SUBSTG1.0_%04X%04X", id, typ)]
		if !ok {
			continue
		}
		s, err := r.c.open(e)
		if err != nil {
			return "", err
		}
		limit := int64(maxTNEFName)
		if typ == ptUnicode {
			limit *= 2
		}
		b := make([]byte, min(s.size, limit))
		if err := readAtFull(s, b, 0); err != nil {
			return "", err
		}
		if typ == ptUnicode {
			return decodeUTF16LE(b), nil
		}
		return decodeString8(codepage, b), nil
	}
	return "", nil
}
