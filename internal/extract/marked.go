package extract

import (
	"io"
	"sync"
)

// markedBody is the decoded content of a large body, read by decoding from
// the nearest mark before the offset asked for: a zip's directory lies at
// its end, and reading it must not decode all the rest. A read that goes
// on where the last one stopped goes on decoding; it does not start over.
// markedSkip is how far ahead of where the last read stopped a read may
// start and still go on decoding from there.
const markedSkip = 16 << 10

type markedBody struct {
	size int64 // decoded
	// decoder decodes from the last mark at or before off, which lies at
	// decoded offset at.
	decoder func(off int64) (dec io.Reader, at int64)

	mu  sync.Mutex
	dec io.Reader // decodes from pos on
	pos int64
}

func (b *markedBody) ReadAt(p []byte, off int64) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if off >= b.size {
		return 0, io.EOF
	}
	// A read a little past where the last stopped (the next piece of
	// content that lies in pieces, as an S/MIME envelope's does) goes on
	// decoding rather than starting again from a mark.
	if b.dec == nil || off < b.pos || off-b.pos > markedSkip {
		// A decoder left before its end (a compound file's sectors are
		// read out of order) gives its buffers back for the next.
		if r, ok := b.dec.(interface{ release() }); ok {
			r.release()
		}
		b.dec, b.pos = b.decoder(off)
	}
	if off > b.pos {
		if _, err := io.CopyN(io.Discard, b.dec, off-b.pos); err != nil {
			b.dec = nil
			return 0, err
		}
		b.pos = off
	}
	n, err := io.ReadFull(b.dec, p)
	b.pos += int64(n)
	switch {
	case err == io.ErrUnexpectedEOF && b.pos == b.size:
		err = io.EOF
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		err, b.dec = io.ErrUnexpectedEOF, nil // shorter than when it was scanned
	case err != nil:
		b.dec = nil
	}
	return n, err
}
