package extract

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf16"
)

// A Compound File (MS-CFB, "OLE2") is a file system in a file: fixed-size
// sectors chained by a table (the FAT), a directory of storages and
// streams, and small streams kept in 64-byte mini sectors inside one
// stream of their own. Outlook's .msg files are compound files. cfb reads
// one where it lies and gives each stream as an io.ReaderAt over its
// sectors, so that nothing is copied.
//
// Hostile files are where such readers hang or allocate without bound:
// sector chains that loop or that two streams share, sizes larger than
// the file, counts that promise more sectors than there are. Every chain
// is walked at most once, and no sector may be in two chains (a bitmap of
// the file's sectors), so the work of reading a file is bounded by its
// number of sectors; what is held in memory (the FAT of the sectors
// inside the file, the directory, the mini FAT) is a fixed fraction of
// the file's size, the directory at most maxCFBDirectory.

const (
	cfbMagic        = "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
	cfbHeaderSize   = 512
	cfbEntrySize    = 128
	cfbMiniSize     = 64
	cfbMiniCutoff   = 4096
	cfbEndOfChain   = 0xfffffffe
	cfbNoStream     = 0xffffffff
	cfbMaxRegSect   = 0xfffffffa
	cfbTypeStorage  = 1
	cfbTypeStream   = 2
	cfbTypeRoot     = 5
	cfbHeaderDIFATs = 109

	// maxCFBDirectory bounds the directory read into memory: 32,768
	// entries, where Outlook writes about 13 for each attachment (its
	// storage and a dozen streams), 26,000 for the 2,000 parts a message
	// may have.
	maxCFBDirectory = 4 << 20
)

// cfbDamage says what is wrong with a compound file, as opposed to
// an error reading it.
type cfbDamage string

func (d cfbDamage) Error() string { return string(d) }

func cfbDamaged(format string, args ...any) error { return cfbDamage(fmt.Sprintf(format, args...)) }

// cfb is an open compound file.
type cfb struct {
	src         io.ReaderAt
	size        int64
	shift       uint   // log2 of the sector size
	sectors     uint32 // sectors that start inside the file
	fat         []uint32
	used        []uint64 // sectors in a chain already walked
	dir         []byte
	reached     []uint64 // directory entries reached from the root
	miniFAT     []uint32
	mini        *chainReader // the mini stream
	miniUsed    []uint64
	miniSectors uint32
}

// cfbEntry is one directory entry.
type cfbEntry struct {
	name               string
	typ                byte
	left, right, child uint32
	start              uint32
	size               int64
}

// openCFB reads the header, FAT, directory and mini FAT of the compound
// file of size bytes in src. An error is a cfbDamage when the file is
// damaged, any other when src could not be read.
func openCFB(src io.ReaderAt, size int64) (*cfb, error) {
	if size < cfbHeaderSize {
		return nil, cfbDamaged("not a compound file: %d bytes", size)
	}
	h := make([]byte, cfbHeaderSize)
	if err := readAtFull(src, h, 0); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	if string(h[:8]) != cfbMagic {
		return nil, cfbDamaged("not a compound file (no signature)")
	}
	c := &cfb{src: src, size: size, shift: uint(le.Uint16(h[0x1e:]))}
	if le.Uint16(h[0x1c:]) != 0xfffe || (c.shift != 9 && c.shift != 12) || le.Uint16(h[0x20:]) != 6 {
		return nil, cfbDamaged("compound file header: byte order, sector size or mini sector size not as MS-CFB allows")
	}
	ss := int64(1) << c.shift
	// The header fills the first sector; sector 0 is the one after it.
	if size <= ss {
		return nil, cfbDamaged("compound file of %d bytes holds no sector", size)
	}
	c.sectors = uint32(min((size-ss+ss-1)/ss, cfbMaxRegSect))
	c.used = make([]uint64, (c.sectors+63)/64)
	if err := c.readFAT(h); err != nil {
		return nil, err
	}
	if le.Uint32(h[0x38:]) != cfbMiniCutoff {
		return nil, cfbDamaged("compound file's mini stream cutoff is %d, not %d", le.Uint32(h[0x38:]), cfbMiniCutoff)
	}
	dir, err := c.chain(le.Uint32(h[0x30:]), -1, maxCFBDirectory)
	if err != nil {
		return nil, fmt.Errorf("compound file's directory: %w", err)
	}
	if dir.size < cfbEntrySize {
		return nil, cfbDamaged("compound file's directory is empty")
	}
	c.dir = make([]byte, dir.size/cfbEntrySize*cfbEntrySize)
	if err := readAtFull(dir, c.dir, 0); err != nil {
		return nil, err
	}
	c.reached = make([]uint64, (len(c.dir)/cfbEntrySize+63)/64)
	root := c.entry(0)
	if root.typ != cfbTypeRoot {
		return nil, cfbDamaged("compound file's first directory entry is not its root")
	}
	mark(c.reached, 0)
	if root.size < 0 || root.size > size {
		return nil, cfbDamaged("compound file's mini stream of %d bytes in a file of %d", root.size, size)
	}
	if root.size > 0 {
		if c.mini, err = c.chain(root.start, root.size, 0); err != nil {
			return nil, fmt.Errorf("compound file's mini stream: %w", err)
		}
		c.miniSectors = uint32(min(root.size/cfbMiniSize, cfbMaxRegSect))
		c.miniUsed = make([]uint64, (c.miniSectors+63)/64)
		// The mini FAT needs no more entries than the mini stream has sectors.
		mf, err := c.chain(le.Uint32(h[0x3c:]), -1, int64(c.miniSectors)*4)
		if err != nil {
			return nil, fmt.Errorf("compound file's mini FAT: %w", err)
		}
		c.miniFAT = make([]uint32, min(mf.size/4, int64(c.miniSectors)))
		b := make([]byte, 4*len(c.miniFAT))
		if err := readAtFull(mf, b, 0); err != nil {
			return nil, err
		}
		for i := range c.miniFAT {
			c.miniFAT[i] = le.Uint32(b[4*i:])
		}
	}
	return c, nil
}

// readFAT reads the FAT entries of the sectors inside the file, from the
// FAT sectors the header and the DIFAT chain list.
func (c *cfb) readFAT(h []byte) error {
	le := binary.LittleEndian
	ss := int64(1) << c.shift
	perSector := uint32(ss / 4)
	// More FAT sectors than it takes to describe every sector of the file
	// describe sectors that are not there.
	count := min(le.Uint32(h[0x2c:]), (c.sectors+perSector-1)/perSector)
	c.fat = make([]uint32, 0, min(int64(count)*int64(perSector), int64(c.sectors)))
	buf := make([]byte, ss)
	addFAT := func(sect uint32) error {
		if sect >= c.sectors {
			return cfbDamaged("compound file's FAT sector %d lies past its end", sect)
		}
		if err := readAtFull(c.src, buf, c.offset(sect)); err != nil {
			return err
		}
		for i := int64(0); i < ss && len(c.fat) < cap(c.fat); i += 4 {
			c.fat = append(c.fat, le.Uint32(buf[i:]))
		}
		return nil
	}
	var listed uint32
	for i := 0; i < cfbHeaderDIFATs && listed < count; i++ {
		if err := addFAT(le.Uint32(h[0x4c+4*i:])); err != nil {
			return err
		}
		listed++
	}
	difat := make([]byte, ss)
	next := le.Uint32(h[0x44:])
	for walked := uint32(0); listed < count; walked++ {
		if next >= c.sectors || walked >= c.sectors {
			return cfbDamaged("compound file's DIFAT lists %d of its %d FAT sectors", listed, count)
		}
		if err := readAtFull(c.src, difat, c.offset(next)); err != nil {
			return err
		}
		for i := int64(0); i < ss-4 && listed < count; i += 4 {
			if err := addFAT(le.Uint32(difat[i:])); err != nil {
				return err
			}
			listed++
		}
		next = le.Uint32(difat[ss-4:])
	}
	return nil
}

// offset is where sector sect starts in the file.
func (c *cfb) offset(sect uint32) int64 { return int64(sect+1) << c.shift }

// chain returns the stream of size bytes whose sectors are chained from
// start in the FAT. size -1 is a stream whose size is its chain's (up to
// limit bytes); a chain longer than a stream of limit bytes needs is cut
// there.
func (c *cfb) chain(start uint32, size, limit int64) (*chainReader, error) {
	ss := int64(1) << c.shift
	r := &chainReader{src: c.src, size: size}
	var have int64
	for sect := start; sect != cfbEndOfChain && (size < 0 || have < size) && (size >= 0 || have < limit); sect = c.fat[sect] {
		if sect >= c.sectors || int(sect) >= len(c.fat) {
			return nil, cfbDamaged("a sector chain leads to sector %d, past the file's end", sect)
		}
		if marked(c.used, sect) {
			return nil, cfbDamaged("a sector chain loops or meets another at sector %d", sect)
		}
		mark(c.used, sect)
		n := min(ss, c.size-c.offset(sect))
		if size >= 0 {
			n = min(n, size-have)
		}
		r.add(c.offset(sect), n)
		have += n
		if n < ss && (size < 0 || have < size) {
			break // the file ends inside the sector
		}
	}
	if size < 0 {
		r.size = have
	} else if have < size {
		return nil, cfbDamaged("a stream of %d bytes has sectors for %d", size, have)
	}
	return r, nil
}

// miniChain is chain for a stream kept in mini sectors.
func (c *cfb) miniChain(start uint32, size int64) (*chainReader, error) {
	r := &chainReader{src: c.mini, size: size}
	var have int64
	for sect := start; have < size; sect = c.miniFAT[sect] {
		if sect >= c.miniSectors || int(sect) >= len(c.miniFAT) {
			return nil, cfbDamaged("a mini sector chain leads to mini sector %d, past the mini stream's end", sect)
		}
		if marked(c.miniUsed, sect) {
			return nil, cfbDamaged("a mini sector chain loops or meets another at mini sector %d", sect)
		}
		mark(c.miniUsed, sect)
		n := min(cfbMiniSize, size-have)
		r.add(int64(sect)*cfbMiniSize, n)
		have += n
	}
	return r, nil
}

func mark(bits []uint64, i uint32)        { bits[i/64] |= 1 << (i % 64) }
func marked(bits []uint64, i uint32) bool { return bits[i/64]&(1<<(i%64)) != 0 }

// entry is directory entry i, which the caller has checked exists.
func (c *cfb) entry(i uint32) cfbEntry {
	le := binary.LittleEndian
	b := c.dir[int(i)*cfbEntrySize:][:cfbEntrySize]
	n := min(int(le.Uint16(b[64:])), 64) / 2
	u := make([]uint16, 0, n)
	for k := 0; k < n; k++ {
		if ch := le.Uint16(b[2*k:]); ch != 0 {
			u = append(u, ch)
		}
	}
	e := cfbEntry{name: string(utf16.Decode(u)), typ: b[66], left: le.Uint32(b[68:]), right: le.Uint32(b[72:]),
		child: le.Uint32(b[76:]), start: le.Uint32(b[116:]), size: int64(le.Uint64(b[120:]))}
	if c.shift == 9 {
		e.size &= 0xffffffff // version 3 files leave the high half unset, or set to anything
	}
	return e
}

// children are the entries of storage s, by name. A directory entry can
// belong to one storage only: one reached twice is damage, so that a tree
// that loops, or two storages that share a subtree, are each read once.
func (c *cfb) children(s cfbEntry) (map[string]cfbEntry, error) {
	out := map[string]cfbEntry{}
	stack := []uint32{s.child}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i == cfbNoStream {
			continue
		}
		if int(i) >= len(c.dir)/cfbEntrySize {
			return nil, cfbDamaged("compound file's directory entry %d is past its end", i)
		}
		if marked(c.reached, i) {
			return nil, cfbDamaged("compound file's directory entry %d is reached twice", i)
		}
		mark(c.reached, i)
		e := c.entry(i)
		out[strings.ToUpper(e.name)] = e
		stack = append(stack, e.left, e.right)
	}
	return out, nil
}

// open is the content of stream e.
func (c *cfb) open(e cfbEntry) (*chainReader, error) {
	if e.typ != cfbTypeStream {
		return nil, cfbDamaged("%q is not a stream", e.name)
	}
	if e.size < 0 || e.size > c.size {
		return nil, cfbDamaged("stream %q of %d bytes in a compound file of %d", e.name, e.size, c.size)
	}
	if e.size < cfbMiniCutoff {
		if e.size == 0 {
			return &chainReader{}, nil
		}
		if c.mini == nil {
			return nil, cfbDamaged("stream %q is in a mini stream the file does not have", e.name)
		}
		return c.miniChain(e.start, e.size)
	}
	return c.chain(e.start, e.size, 0)
}

// chainReader is a stream of a compound file: the pieces of src it lies
// in, in order.
type chainReader struct {
	src    io.ReaderAt
	size   int64
	pieces []piece
}

// piece is n bytes at off in the source, at at in the stream.
type piece struct{ at, off, n int64 }

func (r *chainReader) add(off, n int64) {
	at := int64(0)
	if k := len(r.pieces); k > 0 {
		last := &r.pieces[k-1]
		if last.off+last.n == off { // sectors in a row are one piece
			last.n += n
			return
		}
		at = last.at + last.n
	}
	r.pieces = append(r.pieces, piece{at, off, n})
}

func (r *chainReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	k := sort.Search(len(r.pieces), func(k int) bool { return r.pieces[k].at+r.pieces[k].n > off })
	done := 0
	for ; done < len(p) && k < len(r.pieces); k++ {
		pc := r.pieces[k]
		skip := off + int64(done) - pc.at
		want := min(int64(len(p)-done), pc.n-skip)
		n, err := r.src.ReadAt(p[done:done+int(want)], pc.off+skip)
		done += n
		if n < int(want) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return done, err
		}
	}
	if done < len(p) {
		return done, io.EOF
	}
	return done, nil
}

// readAtFull reads len(b) bytes at off; a short read is an error.
func readAtFull(r io.ReaderAt, b []byte, off int64) error {
	n, err := r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return cfbDamaged("compound file cut short at byte %d", off+int64(n))
	}
	return err
}
