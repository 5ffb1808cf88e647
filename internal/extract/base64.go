package extract

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// A large base64 body is decoded when its File is read, not when the
// message is parsed, so that memory does not grow with attachment size:
// from the disk for a message parsed by ParseAt, from the message's bytes
// in place for one parsed by ParseBytes. scanBase64 reads the body once at
// parse time, so that the File's size and the body's defects are known
// before anything is written; base64Body then decodes exactly what
// decodeBase64 would.

// base64Alphabet holds the base64 characters in the order of the values
// they stand for.
const base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// base64Class sorts bytes for every decoder of this package that skips
// what is not base64: the lenient one, and the scan and decoder of a large
// body.
var base64Class = func() (c [256]byte) {
	for _, b := range []byte(" \t\r\n=") {
		c[b] = base64Ignored
	}
	for _, b := range []byte(base64Alphabet) {
		c[b] = base64Char
	}
	return c
}()

// Byte classes; base64Char is the only one with bit 1 set, which allBase64
// relies on.
const (
	base64Stray   = 0 // anything else: skipped and counted as a defect
	base64Ignored = 1 // line breaks, white space, padding
	base64Char    = 2
)

const (
	markChars   = 64 << 10          // base64 characters between two marks
	markDecoded = markChars / 4 * 3 // the bytes they decode to
)

// base64Body is the decoded content of a base64 body in src.
type base64Body struct {
	markedBody
	src   io.ReaderAt
	end   int64   // where the body ends in src
	chars int64   // base64 characters decoded: a dangling last one is not
	marks []int64 // marks[k] is where base64 character k*markChars lies in src
}

// scanBase64 reads the base64 body at [start, end) of src and returns it
// ready to decode, with the defects decodeBase64 would report.
func scanBase64(src io.ReaderAt, start, end int64) (*base64Body, string, error) {
	b := &base64Body{src: src, end: end}
	stray := 0
	err := windows(src, start, end, func(w []byte, off int64) { stray += b.scan(w, off) })
	if err != nil {
		return nil, "", err
	}
	var problems []string
	if stray > 0 {
		problems = append(problems, fmt.Sprintf("%d characters that are not base64 skipped", stray))
	}
	if b.chars%4 == 1 {
		b.chars--
		problems = append(problems, "base64 truncated, last byte lost")
	}
	b.size = int64(base64.RawStdEncoding.DecodedLen(int(b.chars)))
	b.decoder = b.decoderAt
	return b, strings.Join(problems, "; "), nil
}

// scan counts the base64 characters of w, which lies at off in the
// source, marking every markChars-th, and returns how many characters of
// w are stray.
func (b *base64Body) scan(w []byte, off int64) (stray int) {
	// The count is kept in a local: kept in b, it was loaded and stored
	// back at every stride.
	chars := b.chars
	for i := 0; i < len(w); i++ {
		// Sixteen bytes at a time while they are base64 characters and
		// line breaks, unless a mark may fall among them.
		for i+16 <= len(w) {
			if at := chars % markChars; at == 0 || at > markChars-16 {
				break
			}
			n1, ok1 := charsAndBreaks(w[i : i+8])
			n2, ok2 := charsAndBreaks(w[i+8 : i+16])
			if !ok1 || !ok2 {
				break
			}
			chars += int64(n1 + n2)
			i += 16
		}
		if i == len(w) {
			break
		}
		switch base64Class[w[i]] {
		case base64Char:
			if chars%markChars == 0 {
				b.marks = append(b.marks, off+int64(i))
			}
			chars++
		case base64Stray:
			stray++
		}
	}
	b.chars = chars
	return stray
}

func (b *base64Body) decoderAt(off int64) (io.Reader, int64) {
	k := off / markDecoded
	from := b.marks[k]
	d := &base64Decoder{left: b.chars - k*markChars}
	if m, ok := b.src.(inMemory); ok {
		d.mem = m[from:b.end]
	} else {
		d.r = io.NewSectionReader(b.src, from, b.end-from)
	}
	return d, k * markDecoded
}

// base64Decoder decodes the base64 characters of r, or of mem for a body
// in memory, skipping everything else, and stops after left of them.
type base64Decoder struct {
	r     io.Reader
	mem   []byte // what is left of a body in memory
	left  int64  // characters still to read
	in    []byte // read, base64 characters only: in[:n]
	n     int
	out   []byte   // decoded, not yet returned
	buf   []byte   // holds out
	short [48]byte // holds out for a small p
	// pooled are in's and buf's windows from windowBuffers; a body in
	// memory uses small instead, as all it reads into them is what
	// decodeQuanta leaves: the padding at the end, and what lies around
	// a defect. Two windows for each file cost a run of 500 messages
	// 30-40 ms, allocated anew after each collection had emptied the pool.
	pooled [2]*[windowSize]byte
	small  [2 * smallWindow]byte
	err    error
}

// smallWindow is the size of in and buf for a body in memory.
const smallWindow = 512

func (d *base64Decoder) Read(p []byte) (int, error) {
	// A body in memory is decoded from where it lies straight into p, a
	// whole number of quanta at a time, as long as they are regular (see
	// decodeQuanta); the rest goes the way of a body read into buffers.
	// The quanta taken never hold a character beyond left: they hold four
	// each, and only a body of 4k+1 characters has one more than left.
	// A p too small for a quantum or two (the end of a caller's buffer)
	// takes a few through short.
	if d.r == nil && len(d.out) == 0 && d.n == 0 {
		dst := p
		if len(p) < 8 {
			dst = d.short[:]
		}
		if w, read := decodeQuanta(dst, d.mem); w > 0 {
			d.mem, d.left = d.mem[read:], d.left-int64(w/3*4)
			if len(p) >= 8 {
				return w, nil
			}
			d.out = d.short[:w]
		}
	}
	for len(d.out) == 0 {
		if d.left == 0 && d.n == 0 {
			d.release()
			return 0, io.EOF
		}
		if d.err != nil {
			d.release()
			return 0, d.err
		}
		if d.in == nil {
			d.take()
		}
		m, err := d.read(d.in[d.n:])
		kept := int(min(int64(keepBase64(d.in[d.n:d.n+m])), d.left))
		d.left -= int64(kept)
		d.n += kept
		switch {
		case d.left == 0:
		case err == io.EOF:
			d.err = io.ErrUnexpectedEOF // shorter than when it was scanned
		case err != nil:
			d.err = err
		}
		q := d.n / 4 * 4 // whole quanta; the last, short one once all is read
		if d.left == 0 {
			q = d.n
		}
		w, _ := decodeChars(d.buf, d.in[:q]) // cannot fail: base64 characters only, never one dangling
		d.out = d.buf[:w]
		d.n = copy(d.in, d.in[q:d.n])
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// take gives the decoder its in and buf.
func (d *base64Decoder) take() {
	if d.r == nil {
		d.in, d.buf = d.small[:smallWindow], d.small[smallWindow:]
		return
	}
	d.pooled = [2]*[windowSize]byte{windowBuffers.Get().(*[windowSize]byte), windowBuffers.Get().(*[windowSize]byte)}
	d.in, d.buf = d.pooled[0][:], d.pooled[1][:]
}

// read reads the next bytes of the body into p.
func (d *base64Decoder) read(p []byte) (int, error) {
	if d.r != nil {
		return d.r.Read(p)
	}
	n := copy(p, d.mem)
	d.mem = d.mem[n:]
	if len(d.mem) == 0 {
		return n, io.EOF
	}
	return n, nil
}

// release gives the decoder's buffers back once it is done with them.
func (d *base64Decoder) release() {
	if d.pooled[0] != nil {
		windowBuffers.Put(d.pooled[0])
		windowBuffers.Put(d.pooled[1])
		d.pooled = [2]*[windowSize]byte{}
	}
	d.in, d.buf = nil, nil
}

// keepBase64 moves the base64 characters of b to its front and returns
// how many there are.
func keepBase64(b []byte) int {
	k := 0
	for i := 0; i < len(b); {
		if i+8 <= len(b) && allBase64(b[i:i+8]) {
			copy(b[k:k+8], b[i:i+8])
			k += 8
			i += 8
			continue
		}
		if base64Class[b[i]] == base64Char {
			b[k] = b[i]
			k++
		}
		i++
	}
	return k
}

// charsAndBreaks reports whether the eight bytes of b are all base64
// characters, CR and LF, and how many are base64 characters. Line breaks
// are taken in the stride: stepping over each one byte at a time cost the
// scan of a body of 76-character lines as much as its characters.
func charsAndBreaks(b []byte) (chars int, ok bool) {
	_ = b[7]
	sum := base64Tally[b[0]] + base64Tally[b[1]] + base64Tally[b[2]] + base64Tally[b[3]] +
		base64Tally[b[4]] + base64Tally[b[5]] + base64Tally[b[6]] + base64Tally[b[7]]
	chars = int(sum & 0x0f)
	return chars, chars+int(sum>>4) == 8
}

// base64Tally counts a base64 character in the low four bits and a CR or
// LF in the high four; eight of them cannot overflow either.
var base64Tally = func() (t [256]byte) {
	for _, b := range []byte(base64Alphabet) {
		t[b] = 0x01
	}
	t['\r'], t['\n'] = 0x10, 0x10
	return t
}()

// allBase64 reports whether the eight bytes of b are base64 characters.
func allBase64(b []byte) bool {
	_ = b[7]
	return base64Class[b[0]]&base64Class[b[1]]&base64Class[b[2]]&base64Class[b[3]]&
		base64Class[b[4]]&base64Class[b[5]]&base64Class[b[6]]&base64Class[b[7]] == base64Char
}

// quantumBits[k][c] is the 6 bits base64 character c stands for, shifted to
// where they go when c is character k of a quantum; any byte that is not a
// base64 character sets quantumBad.
var quantumBits = func() (t [4][256]uint32) {
	for k := range t {
		for c := range t[k] {
			t[k][c] = quantumBad
		}
		for v, c := range []byte(base64Alphabet) {
			t[k][c] = uint32(v) << (18 - 6*k)
		}
	}
	return t
}()

const quantumBad = 0xff << 24

// quantum is the 24 bits the four characters of q stand for, with
// quantumBad set if one of them is not a base64 character.
func quantum(q []byte) uint32 {
	_ = q[3]
	return quantumBits[0][q[0]] | quantumBits[1][q[1]] | quantumBits[2][q[2]] | quantumBits[3][q[3]]
}

// decodeQuanta decodes whole quanta of four base64 characters from src
// into dst, passing over CR and LF between them. It stops at the first
// quantum with another byte in it (padding included), at the end of src,
// or when dst has no room for the next quantum; it returns the bytes written and
// read.
func decodeQuanta(dst, src []byte) (written, read int) {
	for {
		// Two quanta at a time, written as 8 bytes of which 6 count.
		for len(src)-read >= 8 && len(dst)-written >= 8 {
			a, b := quantum(src[read:read+4]), quantum(src[read+4:read+8])
			if (a|b)&quantumBad != 0 {
				break
			}
			binary.BigEndian.PutUint64(dst[written:], uint64(a)<<40|uint64(b)<<16)
			written, read = written+6, read+8
		}
		if len(src)-read >= 4 && len(dst)-written >= 4 {
			if q := quantum(src[read : read+4]); q&quantumBad == 0 {
				binary.BigEndian.PutUint32(dst[written:], q<<8)
				written, read = written+3, read+4
				continue
			}
		}
		breaks := read
		for breaks < len(src) && (src[breaks] == '\r' || src[breaks] == '\n') {
			breaks++
		}
		if breaks == read {
			return written, read
		}
		read = breaks
	}
}

// decodeChars decodes src, which holds base64 characters only, into dst,
// which has room for all of them: whole quanta by table, a short last one
// by the standard decoder, which fails only on a single dangling character.
func decodeChars(dst, src []byte) (int, error) {
	n, read := decodeQuanta(dst, src)
	m, err := base64.RawStdEncoding.Decode(dst[n:], src[read:])
	return n + m, err
}
