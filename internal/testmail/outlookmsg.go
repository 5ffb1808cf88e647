package testmail

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"unicode/utf16"
)

// OutlookItem is an Outlook message as OutlookMsg writes it to a .msg.
type OutlookItem struct {
	Subject string
	// Codepage is the message's PidTagMessageCodepage, the code page of
	// its 8-bit strings; 0 writes none (readers assume windows-1252).
	Codepage    uint32
	Attachments []OutlookAttachment
}

// OutlookAttachment is one attachment of an OutlookItem.
type OutlookAttachment struct {
	Name     string // PidTagAttachLongFilename; also PidTagDisplayName
	Short    string // PidTagAttachFilename (8.3), if any
	MIMEType string // PidTagAttachMimeTag, if any
	Content  []byte
	// String8 writes the names as 8-bit strings in the item's code page
	// (Latin-1 here) rather than in UTF-16, as older Outlook versions do.
	String8 bool
	// Message makes the attachment an attached message (afEmbeddedMessage).
	Message *OutlookItem
	// OLE makes it an OLE object (afStorage), its Content the only stream
	// of the object's storage.
	OLE bool
	// ByReference makes it a link to a file on the sender's share: no
	// content (afByReference).
	ByReference bool
	// Hidden marks it as a picture shown in the text (a signature logo):
	// PidTagAttachmentHidden, with a content ID the HTML refers to.
	Hidden bool
}

// OutlookMsg writes item as Outlook saves an item to a .msg file
// (MS-OXMSG): a compound file (MS-CFB, version 3, 512-byte sectors) with
// the message's properties stream, its subject and class as string
// streams, and a storage per attachment holding its properties, names
// and content, an attached message in a storage of its own.
func OutlookMsg(item OutlookItem) []byte { return OutlookMsgSectors(item, 512) }

// OutlookMsgSectors is OutlookMsg in a compound file of version 3 with
// 512-byte sectors, or version 4 with 4096-byte ones.
func OutlookMsgSectors(item OutlookItem, sectorSize int) []byte {
	root := &cfbNode{name: "Root Entry", children: outlookMessage(item, 32)}
	root.children = append(root.children, &cfbNode{name: "__nameid_version1.0", children: []*cfbNode{
		{name: "__substg1.0_00020102", stream: []byte{}},
		{name: "__substg1.0_00030102", stream: []byte{}},
		{name: "__substg1.0_00040102", stream: []byte{}},
	}})
	return writeCFB(root, sectorSize)
}

// outlookMessage is the entries of a message's storage, its properties
// stream with a header of header bytes (32 for the item, 24 for an
// attached message).
func outlookMessage(item OutlookItem, header int) []*cfbNode {
	var p outlookProps
	p.fixed(0x0003, 0x0e07, 0) // PidTagMessageFlags
	if item.Codepage != 0 {
		p.fixed(0x0003, 0x3ffd, uint64(item.Codepage)) // PidTagMessageCodepage
	}
	nodes := []*cfbNode{
		p.str(0x001a, "IPM.Note", false, item.Codepage),
		p.str(0x0037, item.Subject, false, item.Codepage),
	}
	for i, a := range item.Attachments {
		nodes = append(nodes, &cfbNode{name: fmt.Sprintf("__attach_version1.0_#%08X", i), children: outlookAttachment(a, i, item.Codepage)})
	}
	h := make([]byte, header)
	binary.LittleEndian.PutUint32(h[16:], uint32(len(item.Attachments))) // next attachment ID
	binary.LittleEndian.PutUint32(h[20:], uint32(len(item.Attachments))) // attachment count
	if header == 32 {
		binary.LittleEndian.PutUint32(h[8:], 0) // next recipient ID
	}
	return append(nodes, &cfbNode{name: "__properties_version1.0", stream: append(h, p.b.Bytes()...)})
}

func outlookAttachment(a OutlookAttachment, num int, codepage uint32) []*cfbNode {
	var p outlookProps
	method := uint64(1) // afByValue
	switch {
	case a.Message != nil:
		method = 5
	case a.OLE:
		method = 6
	case a.ByReference:
		method = 2
	}
	p.fixed(0x0003, 0x3705, method) // PidTagAttachMethod
	p.fixed(0x0003, 0x0e21, uint64(num))
	p.fixed(0x0003, 0x370b, 0xffffffff) // PidTagRenderingPosition
	if a.Hidden {
		p.fixed(0x000b, 0x7ffe, 1) // PidTagAttachmentHidden
		p.fixed(0x0003, 0x3714, 4) // PidTagAttachFlags: attRenderedInBody
	}
	nodes := []*cfbNode{
		p.str(0x3707, a.Name, a.String8, codepage),
		p.str(0x3001, a.Name, a.String8, codepage),
	}
	if a.Short != "" {
		nodes = append(nodes, p.str(0x3704, a.Short, a.String8, codepage))
	}
	if a.MIMEType != "" {
		nodes = append(nodes, p.str(0x370e, a.MIMEType, false, codepage))
	}
	if a.Hidden {
		nodes = append(nodes, p.str(0x3712, a.Name+"@01DC0000.00000000", false, codepage)) // PidTagAttachContentId
	}
	switch {
	case a.Message != nil:
		p.fixed(0x000d, 0x3701, 0xffffffff)
		nodes = append(nodes, &cfbNode{name: "__substg1.0_3701000D", children: outlookMessage(*a.Message, 24)})
	case a.OLE:
		p.fixed(0x000d, 0x3701, 0xffffffff)
		nodes = append(nodes, &cfbNode{name: "__substg1.0_3701000D", children: []*cfbNode{{name: "\x01Ole10Native", stream: a.Content}}})
	case a.ByReference:
		nodes = append(nodes, p.str(0x3708, `\\fileserver\share\`+a.Name, false, codepage)) // PidTagAttachPathname
	default:
		nodes = append(nodes, p.binary(0x3701, a.Content))
	}
	return append(nodes, &cfbNode{name: "__properties_version1.0", stream: append(make([]byte, 8), p.b.Bytes()...)})
}

// outlookProps is a properties stream being written: 16 bytes a
// property, the value in place or, for a string or binary one, its size,
// the value in a stream of its own.
type outlookProps struct{ b bytes.Buffer }

func (p *outlookProps) entry(typ, id uint16, value uint64) {
	binary.Write(&p.b, binary.LittleEndian, []uint16{typ, id})
	binary.Write(&p.b, binary.LittleEndian, uint32(0x6)) // PROPATTR_READABLE|PROPATTR_WRITABLE
	binary.Write(&p.b, binary.LittleEndian, value)
}

func (p *outlookProps) fixed(typ, id uint16, value uint64) { p.entry(typ, id, value) }

func (p *outlookProps) str(id uint16, s string, string8 bool, codepage uint32) *cfbNode {
	typ, b := uint16(0x001f), utf16z(s)
	if string8 {
		typ, b = 0x001e, cstr(latin1(s))
	}
	p.entry(typ, id, uint64(len(b)))
	return &cfbNode{name: fmt.Sprintf("__substg1.0_%04X%04X", id, typ), stream: b}
}

func (p *outlookProps) binary(id uint16, b []byte) *cfbNode {
	p.entry(0x0102, id, uint64(len(b)))
	return &cfbNode{name: fmt.Sprintf("__substg1.0_%04X0102", id), stream: b}
}

// cfbNode is a storage (children) or a stream (stream non-nil) of a
// compound file being written.
type cfbNode struct {
	name     string
	stream   []byte
	children []*cfbNode
}

const (
	cfbMini        = 64
	cfbCutoff      = 4096
	cfbEnd         = 0xfffffffe
	cfbFree        = 0xffffffff
	cfbFATSect     = 0xfffffffd
	cfbDIFSect     = 0xfffffffc
	cfbNone        = 0xffffffff
	cfbEntry       = 128
	cfbDIFATInHead = 109
)

// writeCFB writes the compound file whose root storage is root: its
// large streams in sectors of their own, the small ones in the mini
// stream, each storage's children in a balanced tree of its directory
// entries ordered as MS-CFB orders names.
func writeCFB(root *cfbNode, cfbSector int) []byte {
	// The directory, breadth first, each storage's children sorted.
	var entries []*cfbNode
	index := map[*cfbNode]int{}
	queue := []*cfbNode{root}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		index[n] = len(entries)
		entries = append(entries, n)
		sort.Slice(n.children, func(i, j int) bool { return cfbLess(n.children[i].name, n.children[j].name) })
		queue = append(queue, n.children...)
	}
	// Large streams, then the mini stream, in sectors from 0.
	var data, mini []byte
	var fat, miniFAT []uint32
	start := make([]uint32, len(entries))
	chain := func(table *[]uint32, first, count int) {
		for i := range count {
			next := uint32(cfbEnd)
			if i < count-1 {
				next = uint32(first + i + 1)
			}
			*table = append(*table, next)
		}
	}
	for i, n := range entries {
		start[i] = cfbEnd
		switch {
		case len(n.stream) == 0:
		case len(n.stream) < cfbCutoff:
			start[i] = uint32(len(mini) / cfbMini)
			chain(&miniFAT, len(mini)/cfbMini, (len(n.stream)+cfbMini-1)/cfbMini)
			mini = append(mini, pad(n.stream, cfbMini)...)
		default:
			start[i] = uint32(len(data) / cfbSector)
			chain(&fat, len(data)/cfbSector, (len(n.stream)+cfbSector-1)/cfbSector)
			data = append(data, pad(n.stream, cfbSector)...)
		}
	}
	rootStart := uint32(cfbEnd)
	if len(mini) > 0 {
		rootStart = uint32(len(data) / cfbSector)
		chain(&fat, len(data)/cfbSector, (len(mini)+cfbSector-1)/cfbSector)
		data = append(data, pad(mini, cfbSector)...)
	}
	miniFATStart, miniFATSectors := uint32(cfbEnd), 0
	if len(miniFAT) > 0 {
		b := pad(u32s(miniFAT...), cfbSector)
		for i := len(miniFAT) * 4; i < len(b); i += 4 {
			binary.LittleEndian.PutUint32(b[i:], cfbFree)
		}
		miniFATStart, miniFATSectors = uint32(len(data)/cfbSector), len(b)/cfbSector
		chain(&fat, len(data)/cfbSector, miniFATSectors)
		data = append(data, b...)
	}
	// The directory.
	siblings := map[*cfbNode][2]uint32{} // each entry's left and right
	children := make([]uint32, len(entries))
	for i, n := range entries {
		children[i] = uint32(cfbTree(n.children, index, siblings))
	}
	dir := make([]byte, 0, len(entries)*cfbEntry)
	for i, n := range entries {
		left, right, child := uint32(cfbNone), uint32(cfbNone), children[i]
		if lr, ok := siblings[n]; ok {
			left, right = lr[0], lr[1]
		}
		e := make([]byte, cfbEntry)
		name := utf16.Encode([]rune(n.name))
		for k, c := range name {
			binary.LittleEndian.PutUint16(e[2*k:], c)
		}
		binary.LittleEndian.PutUint16(e[64:], uint16(2*len(name)+2))
		switch {
		case i == 0:
			e[66] = 5
		case n.stream != nil:
			e[66] = 2
		default:
			e[66] = 1
		}
		e[67] = 1 // black
		binary.LittleEndian.PutUint32(e[68:], left)
		binary.LittleEndian.PutUint32(e[72:], right)
		binary.LittleEndian.PutUint32(e[76:], child)
		size := uint64(len(n.stream))
		s := start[i]
		if i == 0 {
			size, s = uint64(len(mini)), rootStart
		}
		if n.stream == nil && i != 0 {
			s = 0
		}
		binary.LittleEndian.PutUint32(e[116:], s)
		binary.LittleEndian.PutUint64(e[120:], size)
		dir = append(dir, e...)
	}
	for len(dir)%cfbSector != 0 {
		e := make([]byte, cfbEntry)
		binary.LittleEndian.PutUint32(e[68:], cfbNone)
		binary.LittleEndian.PutUint32(e[72:], cfbNone)
		binary.LittleEndian.PutUint32(e[76:], cfbNone)
		dir = append(dir, e...)
	}
	dirStart := uint32(len(data) / cfbSector)
	chain(&fat, len(data)/cfbSector, len(dir)/cfbSector)
	data = append(data, dir...)
	// The FAT, after everything else, describing itself and the DIFAT
	// sectors that list the FAT sectors the header has no room for.
	perSector := cfbSector / 4
	fatSectors, difatSectors := 1, 0
	for {
		need := (len(fat) + fatSectors + difatSectors + perSector - 1) / perSector
		difat := max(0, (need-cfbDIFATInHead+perSector-2)/(perSector-1))
		if need == fatSectors && difat == difatSectors {
			break
		}
		fatSectors, difatSectors = need, difat
	}
	fatStart := len(data) / cfbSector
	difatStart := fatStart + fatSectors
	for range fatSectors {
		fat = append(fat, cfbFATSect)
	}
	for range difatSectors {
		fat = append(fat, cfbDIFSect)
	}
	for len(fat)%perSector != 0 {
		fat = append(fat, cfbFree)
	}
	data = append(data, u32s(fat...)...)
	fatSector := func(i int) uint32 {
		if i < fatSectors {
			return uint32(fatStart + i)
		}
		return cfbFree
	}
	for d := range difatSectors {
		for k := range perSector - 1 {
			data = append(data, u32s(fatSector(cfbDIFATInHead+d*(perSector-1)+k))...)
		}
		next := uint32(cfbEnd)
		if d < difatSectors-1 {
			next = uint32(difatStart + d + 1)
		}
		data = append(data, u32s(next)...)
	}
	// The header, alone in the first sector.
	h := make([]byte, cfbSector)
	copy(h, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
	le := binary.LittleEndian
	le.PutUint16(h[0x18:], 0x3e)
	le.PutUint16(h[0x1a:], 3)
	le.PutUint16(h[0x1c:], 0xfffe)
	le.PutUint16(h[0x1e:], 9)
	if cfbSector == 4096 {
		le.PutUint16(h[0x1a:], 4)
		le.PutUint16(h[0x1e:], 12)
		le.PutUint32(h[0x28:], uint32(len(dir)/cfbSector)) // directory sectors, counted in version 4
	}
	le.PutUint16(h[0x20:], 6)
	le.PutUint32(h[0x2c:], uint32(fatSectors))
	le.PutUint32(h[0x30:], dirStart)
	le.PutUint32(h[0x38:], cfbCutoff)
	le.PutUint32(h[0x3c:], miniFATStart)
	le.PutUint32(h[0x40:], uint32(miniFATSectors))
	le.PutUint32(h[0x44:], cfbEnd)
	if difatSectors > 0 {
		le.PutUint32(h[0x44:], uint32(difatStart))
	}
	le.PutUint32(h[0x48:], uint32(difatSectors))
	for i := range cfbDIFATInHead {
		le.PutUint32(h[0x4c+4*i:], fatSector(i))
	}
	return append(h, data...)
}

// cfbLess orders names as MS-CFB orders siblings: shorter first, then by
// their upper-case UTF-16 code units.
func cfbLess(a, b string) bool {
	ua, ub := utf16.Encode([]rune(strings.ToUpper(a))), utf16.Encode([]rune(strings.ToUpper(b)))
	if len(ua) != len(ub) {
		return len(ua) < len(ub)
	}
	for i := range ua {
		if ua[i] != ub[i] {
			return ua[i] < ub[i]
		}
	}
	return false
}

// cfbTree returns the index of the root of the balanced tree of sorted
// siblings, and records each sibling's left and right in at.
func cfbTree(sorted []*cfbNode, index map[*cfbNode]int, at map[*cfbNode][2]uint32) int {
	if len(sorted) == 0 {
		return cfbNone
	}
	mid := len(sorted) / 2
	l, r := cfbTree(sorted[:mid], index, at), cfbTree(sorted[mid+1:], index, at)
	at[sorted[mid]] = [2]uint32{uint32(l), uint32(r)}
	return index[sorted[mid]]
}

// pad is b padded with zeros to a multiple of n bytes.
func pad(b []byte, n int) []byte { return append(bytes.Clone(b), make([]byte, -len(b)&(n-1))...) }
