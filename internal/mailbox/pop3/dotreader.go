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
type dotReader struct {
	br        *bufio.Reader
	lineStart bool // the next byte begins a line
	prevCR    bool // the last byte returned was CR
	done      bool
}

var lineEnd, lineEndDot = []byte("\r\n"), []byte("\r\n.")

func newDotReader(br *bufio.Reader) *dotReader {
	return &dotReader{br: br, lineStart: true}
}

func (d *dotReader) Read(p []byte) (int, error) {
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
		switch {
		case d.prevCR && buf[0] == '\n':
			buf, d.lineStart = buf[:1], true
		default:
			// Everything up to the next line that starts with a dot is
			// data; only there is there anything to undo.
			if i := bytes.Index(buf, lineEndDot); i >= 0 {
				buf, d.lineStart = buf[:i+2], true
			} else {
				d.lineStart = bytes.HasSuffix(buf, lineEnd)
			}
		}
		n += copy(p[n:], buf)
		d.prevCR = buf[len(buf)-1] == '\r'
		_, _ = d.br.Discard(len(buf))
	}
	if d.done && n == 0 {
		return 0, io.EOF
	}
	return n, nil
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
