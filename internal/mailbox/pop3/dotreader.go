package pop3

import (
	"bufio"
	"bytes"
	"io"
)

// dotReader streams a POP3 multi-line body, undoing the dot-stuffing:
// a line starting with "." loses that dot, and the line "." ends the body.
// Lines end only at CRLF: a bare LF is data, so a server that stuffs only
// CRLF lines can never end a message early. It copies straight out of the
// bufio.Reader's buffer, so lines of any length cost no memory.
//
// A read of at least directRead bytes while br holds nothing is made
// straight from src, what br reads, into the caller's buffer, and the
// stuffing undone there (readDirect): copying every byte of a message out
// of br's buffer cost a twentieth of a run's CPU over POP3. What it reads
// past the body's end, or cannot decide on yet, it gives back to src.
type dotReader struct {
	br        *bufio.Reader
	src       *unread // nil: every read goes through br
	lineStart bool    // the next byte begins a line
	prevCR    bool    // the last byte returned was CR
	done      bool
}

var lineEnd, lineEndDot = []byte("\r\n"), []byte("\r\n.")

// directRead is the smallest read readDirect makes.
const directRead = 512

func newDotReader(br *bufio.Reader, src *unread) *dotReader {
	return &dotReader{br: br, src: src, lineStart: true}
}

func (d *dotReader) Read(p []byte) (int, error) {
	if d.src != nil && !d.done && len(p) >= directRead && d.br.Buffered() == 0 && len(d.src.back) == 0 {
		n, err := d.readDirect(p)
		if n > 0 || err != nil {
			return n, err
		}
		// Nothing to return yet: on through br, which waits for more.
	}
	n := 0
	for n < len(p) && !d.done {
		if d.lineStart {
			if n > 0 && d.br.Buffered() < 3 {
				break // return what we have rather than wait for more
			}
			ended, err := d.startLine()
			if err != nil {
				return n, err
			}
			if ended {
				break
			}
		}
		if d.br.Buffered() == 0 {
			if n > 0 {
				break
			}
			if _, err := d.br.Peek(1); err != nil {
				return n, noEOF(err)
			}
		}
		buf, _ := d.br.Peek(min(d.br.Buffered(), len(p)-n))
		buf = d.data(buf)
		n += copy(p[n:], buf)
		_, _ = d.br.Discard(len(buf))
	}
	if d.done && n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// readDirect reads into p from src and undoes the stuffing in place,
// as Read does through br. It returns 0 and no error when it has nothing
// to return yet: the start of a line holding only a dot, or one or two
// bytes after it, which it gave back.
func (d *dotReader) readDirect(p []byte) (int, error) {
	n, err := d.src.Read(p)
	if n == 0 {
		return 0, noEOF(err)
	}
	w := 0 // the bytes kept, moved to the front of p
	for i := 0; i < n && !d.done; {
		if d.lineStart {
			if p[i] == '.' {
				switch {
				case n-i < 3:
					d.src.giveBack(p[i:n])
					return d.end(w)
				case p[i+1] == '\r' && p[i+2] == '\n':
					d.done = true
					d.src.giveBack(p[i+3 : n])
					return d.end(w)
				}
				i++ // the stuffing
				d.prevCR = false
			}
			d.lineStart = false
		}
		seg := d.data(p[i:n])
		w += copy(p[w:], seg)
		i += len(seg)
	}
	return d.end(w)
}

// data returns the bytes at the front of buf, which holds at least one,
// that are data as they are: everything up to the next line that starts
// with a dot, where alone there is anything to undo.
func (d *dotReader) data(buf []byte) []byte {
	switch {
	case d.prevCR && buf[0] == '\n':
		buf, d.lineStart = buf[:1], true
	default:
		if i := bytes.Index(buf, lineEndDot); i >= 0 {
			buf, d.lineStart = buf[:i+2], true
		} else {
			d.lineStart = bytes.HasSuffix(buf, lineEnd)
		}
	}
	d.prevCR = buf[len(buf)-1] == '\r'
	return buf
}

// end is what readDirect returns once it has kept w bytes.
func (d *dotReader) end(w int) (int, error) {
	if d.done && w == 0 {
		return 0, io.EOF
	}
	return w, nil
}

// unread is the connection as the Client's bufio.Reader reads it, with
// what a dotReader read past a body given back.
type unread struct {
	r    io.Reader
	back []byte // read before r
	kept []byte // back's storage
}

func (u *unread) Read(p []byte) (int, error) {
	if len(u.back) > 0 {
		n := copy(p, u.back)
		u.back = u.back[n:]
		return n, nil
	}
	return u.r.Read(p)
}

// giveBack has b read again before anything else; nothing given back
// before is left.
func (u *unread) giveBack(b []byte) {
	u.kept = append(u.kept[:0], b...)
	u.back = u.kept
}

// startLine handles a dot at the start of a line, reporting whether it
// was the terminating ".\r\n".
func (d *dotReader) startLine() (ended bool, err error) {
	d.lineStart = false
	b, err := d.br.Peek(1)
	if err != nil {
		return false, noEOF(err)
	}
	if b[0] != '.' {
		return false, nil
	}
	// A well-formed body has at least two more bytes after any leading
	// dot, so this cannot wait on a server that is done sending.
	b, err = d.br.Peek(3)
	if err != nil {
		return false, noEOF(err)
	}
	if b[1] == '\r' && b[2] == '\n' {
		_, _ = d.br.Discard(3)
		d.done = true
		return true, nil
	}
	_, _ = d.br.Discard(1)
	d.prevCR = false
	return false, nil
}

// noEOF turns the end of the stream, which inside a body means the
// connection was lost, into io.ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
