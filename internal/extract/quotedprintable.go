package extract

import (
	"io"
	"sort"
)

// A large quoted-printable body of a message parsed by ParseAt is decoded
// when its File is read, as a base64 one is (base64.go). Quoted-printable
// decodes a token at a time, each decided by the bytes from its start on:
// a run of plain bytes, a line break, an escape, an '=' kept as it is, a
// soft line break, or a run of white space, which is dropped if the line
// ends after it (transport padding) and kept otherwise. That last needs a
// look past the run however long it is, but never a copy of it: the run is
// in the message, to be read again. So qpDecoder holds nothing but its
// place, and any token start is a place to resume from.

// qpSpecial marks the bytes that can start a token other than a plain run.
var qpSpecial = [256]bool{'=': true, ' ': true, '\t': true, '\r': true, '\n': true}

const (
	qpMarkEvery = 48 << 10 // decoded bytes between two marks
	qpWindow    = 64 << 10 // bytes a decoder reads at a time
)

// qpBody is the decoded content of a quoted-printable body in src.
type qpBody struct {
	markedBody
	src        io.ReaderAt
	start, end int64 // where the body lies in src
	marks      []qpMark
	window     int // bytes a decoder reads at a time
}

// qpMark is a token that starts at body offset at, after out decoded bytes.
type qpMark struct{ at, out int64 }

// scanQuotedPrintable reads the quoted-printable body at [start, end) of
// src and returns it ready to decode into exactly what
// decodeQuotedPrintable makes of it.
func scanQuotedPrintable(src io.ReaderAt, start, end int64) (*qpBody, error) {
	return scanQP(src, start, end, qpMarkEvery, qpWindow)
}

// scanQP is scanQuotedPrintable with marks every so many decoded bytes and
// a decoder window of so many bytes; tests make both small.
func scanQP(src io.ReaderAt, start, end, every int64, window int) (*qpBody, error) {
	b := &qpBody{src: src, start: start, end: end, window: window}
	d := b.decoderFrom(0)
	for {
		if b.size >= int64(len(b.marks))*every {
			b.marks = append(b.marks, qpMark{int64(d.pos), b.size})
		}
		if !d.next() {
			break
		}
		b.size += int64(len(d.out) + d.b - d.a)
		d.out, d.a = nil, d.b
	}
	b.decoder = b.decoderAt
	return b, d.t.err
}

func (b *qpBody) decoderAt(off int64) (io.Reader, int64) {
	m := b.marks[sort.Search(len(b.marks), func(i int) bool { return b.marks[i].out > off })-1]
	return b.decoderFrom(m.at), m.out
}

func (b *qpBody) decoderFrom(at int64) *qpDecoder {
	t := textAt(io.NewSectionReader(b.src, b.start, b.end-b.start), b.end-b.start)
	t.block = b.window
	return &qpDecoder{t: t, pos: int(at)}
}

// qpDecoder decodes a quoted-printable body a window at a time.
type qpDecoder struct {
	t   *text  // the body
	pos int    // where the next token starts
	out []byte // decoded, not yet returned
	buf []byte // holds out
	// Then the body's bytes [a, b), blanks kept as they are: a run of them
	// may be longer than buf.
	a, b int
}

// next decodes the tokens in the window at pos, at least one, into out
// and [a, b); it returns false at the end of the body.
func (d *qpDecoder) next() bool {
	w := d.t.from(d.pos, 3)
	if cap(d.buf) < len(w) {
		d.buf = make([]byte, 0, max(len(w), d.t.block))
	}
	out := d.buf[:0]
	i := 0
	// The common tokens, when the window holds all that decides them; the
	// rest are token's.
common:
	for i < len(w) {
		switch c := w[i]; {
		case !qpSpecial[c]:
			j := i + 1
			for j < len(w) && !qpSpecial[w[j]] {
				j++
			}
			out = append(out, w[i:j]...)
			i = j
		case c == '\n':
			out = append(out, c)
			i++
		case c == '\r' && i+1 < len(w) && w[i+1] == '\n':
			out = append(out, w[i:i+2]...)
			i += 2
		case c == '=' && i+2 < len(w) && isHex(w[i+1]) && isHex(w[i+2]):
			out = append(out, unhex(w[i+1])<<4|unhex(w[i+2]))
			i += 3
		case c == '=' && i+2 < len(w) && w[i+1] == '\r' && w[i+2] == '\n': // soft line break
			i += 3
		default:
			break common
		}
	}
	d.pos += i
	d.out = out
	return i > 0 || d.token()
}

// token decodes the token at pos that next could not, a CR, white space
// or an '=' whose meaning lies further on, into out or [a, b); it returns
// false at the end of the body.
func (d *qpDecoder) token() bool {
	t := d.t
	if d.pos >= t.size {
		return false
	}
	w := t.from(d.pos, 3)
	if len(w) == 0 {
		return false // a read error, in t.err
	}
	switch c := w[0]; {
	case c == '\r':
		if len(w) > 1 && w[1] == '\n' {
			d.verbatim(2)
		} else {
			d.verbatim(1)
		}
	case c == ' ' || c == '\t':
		end := d.skipBlanks(d.pos)
		if d.lineBreak(end) >= 0 {
			d.pos = end // transport padding
		} else {
			d.verbatim(end - d.pos)
		}
	default: // '='; w is not to be used after the next read of t
		var decoded byte
		escape := len(w) >= 3 && isHex(w[1]) && isHex(w[2])
		if escape {
			decoded = unhex(w[1])<<4 | unhex(w[2])
		}
		end := d.skipBlanks(d.pos + 1)
		switch n := d.lineBreak(end); {
		case n >= 0:
			d.pos = end + n // soft line break
		case escape:
			d.out = append(d.out, decoded)
			d.pos += 3
		default:
			d.verbatim(1)
		}
	}
	return true
}

func (d *qpDecoder) verbatim(n int) {
	d.a, d.b = d.pos, d.pos+n
	d.pos += n
}

// skipBlanks returns where the run of spaces and tabs at i ends.
func (d *qpDecoder) skipBlanks(i int) int {
	for {
		w := d.t.from(i, 1)
		n := 0
		for n < len(w) && (w[n] == ' ' || w[n] == '\t') {
			n++
		}
		i += n
		if n < len(w) || len(w) == 0 {
			return i
		}
	}
}

// lineBreak returns the length of the line break at i (0 at the end of
// the body), or -1 if no line ends there.
func (d *qpDecoder) lineBreak(i int) int {
	w := d.t.from(i, 2)
	switch {
	case len(w) == 0:
		return 0
	case w[0] == '\n':
		return 1
	case w[0] == '\r' && len(w) > 1 && w[1] == '\n':
		return 2
	}
	return -1
}

func (d *qpDecoder) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.a < d.b {
			s := d.t.slice(d.a, d.a+min(d.b-d.a, len(p), d.t.block))
			if len(s) == 0 { // the body is shorter than when it was scanned
				if d.t.err != nil {
					return 0, d.t.err
				}
				return 0, io.ErrUnexpectedEOF
			}
			n := copy(p, s)
			d.a += n
			return n, nil
		}
		if !d.next() {
			if d.t.err != nil {
				return 0, d.t.err
			}
			return 0, io.EOF
		}
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}
