package objsink

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sync"

	"mailtask/internal/sink"
)

// memLimit is the size up to which staged content stays in memory (while
// the destination's memory budget has room); larger content goes to a
// spool file.
const memLimit = 256 << 10

// staged is content written ahead, with its size and SHA-256.
type staged struct {
	f    *folder
	p    sink.Policy
	mem  []byte   // the content, if it fit in memLimit
	file *os.File // otherwise the spool file holding it
	size int64
	sum  [32]byte
	// sending is set while an attempt at a put that sent the spool file
	// itself (putobject.go) may be sending it still: net/http goes on
	// after a reply it took early, as a store answers 412 to a
	// create-only put before reading its body. Such a file is closed,
	// not reused: the next content staged in it would go out in its
	// stead, shuffled by that send's moves of the file's offset.
	sending bool
}

// scratch holds content while Stage reads it, before it is known whether
// it fits in memLimit: growing a slice as io.ReadAll does allocates and
// clears two to three times the content, the most CPU staging took.
var scratch = sync.Pool{New: func() any { b := make([]byte, memLimit+1); return &b }}

// Stage reads content into memory or a spool file, taking its SHA-256,
// which the object's metadata needs before the upload starts.
func (f *folder) Stage(content io.Reader, p sink.Policy) (sink.Pending, error) {
	h := sha256.New()
	r := io.TeeReader(content, h)
	s := &staged{f: f, p: p}
	buf := scratch.Get().(*[]byte)
	defer scratch.Put(buf)
	n, err := io.ReadFull(r, *buf)
	fits := err == io.EOF || err == io.ErrUnexpectedEOF
	switch {
	case fits && f.b.holdInMemory(int64(n)):
		s.mem, s.size = bytes.Clone((*buf)[:n]), int64(n)
	case fits:
		if err := s.spill((*buf)[:n], r); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("reading content: %w", err)
	default:
		if err := s.spill(*buf, r); err != nil {
			return nil, err
		}
	}
	h.Sum(s.sum[:0])
	return s, nil
}

// holdInMemory takes n bytes of the destination's memory budget, if it
// has room for them.
func (b *Bucket) holdInMemory(n int64) bool {
	if b.inMemory.Add(n) > b.memBudget {
		b.inMemory.Add(-n)
		return false
	}
	return true
}

// spill writes head and the rest of r to a spool file.
func (s *staged) spill(head []byte, r io.Reader) error {
	file, err := s.f.b.spoolFile()
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	n, err := io.Copy(file, io.MultiReader(bytes.NewReader(head), r))
	if err != nil {
		file.Close()
		return fmt.Errorf("spool: %w", err)
	}
	s.file, s.size = file, n
	return nil
}

// section returns a reader of size bytes of the content from off.
func (s *staged) section(off, size int64) io.ReadSeeker {
	if s.file != nil {
		return io.NewSectionReader(s.file, off, size)
	}
	return bytes.NewReader(s.mem[off : off+size])
}

// Discard releases the content.
func (s *staged) Discard() {
	switch {
	case s.file != nil && s.sending:
		s.file.Close()
	case s.file != nil:
		s.f.b.spare(s.file)
	}
	s.file = nil
	if s.mem != nil {
		s.f.b.inMemory.Add(-int64(len(s.mem)))
		s.mem = nil
	}
}
