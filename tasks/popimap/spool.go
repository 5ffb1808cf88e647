package popimap

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"mailtask/internal/extract"
)

// spoolMemory is how much of one message is kept in memory; the rest of a
// larger message goes to a file in the spool directory, so that a huge
// message costs disk, not memory.
const spoolMemory = 8 << 20

// SpoolDir is where a task's messages larger than spoolMemory are kept while
// they are processed, beside its state.
func SpoolDir(stateDir, task string) string {
	return filepath.Join(stateDir, "spool", task)
}

// clearSpool removes what a crashed run left in the task's spool. Run calls
// it with the task's lock held, so no other run is using the directory.
func clearSpool(dir string) error {
	// A link in place of the spool, or of the folder of spools, would
	// have the run empty whatever folder it points to.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if fi, err := os.Lstat(d); err == nil && !fi.IsDir() {
			return fmt.Errorf("spool %s is not a folder (a link?); remove it, and mailtask creates the folder again", d)
		}
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list spool: %w", err)
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s left in the spool by an interrupted run: %w", e.Name(), err)
		}
	}
	return nil
}

// spool is one received message: its bytes, in memory or in a file, and
// their sha256.
type spool struct {
	mem  []byte
	file *os.File // nil when the message fits in mem
	size int64
	sum  [32]byte
}

// readError is a failure to read the message from the server, as opposed
// to one to store it.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

type errReader struct{ r io.Reader }

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

// spoolBuffers holds the memory of messages already written, for the next
// ones: allocating it afresh for each message cost more CPU (zeroing, page
// faults, garbage collection) than parsing them did.
var spoolBuffers sync.Pool // of *[]byte, empty, at most spoolMemory+bytes.MinRead

func spoolBuffer(size int64) []byte {
	if p, _ := spoolBuffers.Get().(*[]byte); p != nil && int64(cap(*p)) >= size {
		return *p
	}
	return make([]byte, 0, size)
}

// newSpool copies r into a spool, hashing it on the way. A failure to read
// r is a *readError. sizeHint, the size the server announced, saves
// growing the buffer step by step; it need not be exact.
func newSpool(dir string, from io.Reader, sizeHint int64) (*spool, error) {
	r := errReader{from}
	h := sha256.New()
	buf := spoolBuffer(min(max(sizeHint, 0), spoolMemory) + bytes.MinRead)
	for len(buf) <= spoolMemory {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(len(buf), spoolMemory+bytes.MinRead-len(buf)))
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), spoolMemory+1)])
		h.Write(buf[len(buf) : len(buf)+n])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			s := &spool{mem: buf, size: int64(len(buf))}
			h.Sum(s.sum[:0])
			return s, nil
		}
		if err != nil {
			releaseBuffer(buf)
			return nil, err
		}
	}
	s, err := spoolFile(dir, buf, r, h)
	releaseBuffer(buf)
	return s, err
}

// spoolFile is newSpool for a message larger than spoolMemory, of which
// head has been read and hashed into h.
func spoolFile(dir string, head []byte, r io.Reader, h hash.Hash) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	f, err := os.CreateTemp(dir, "msg-*")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &spool{file: f, size: int64(len(head))}
	// Unlinked at once on success: the open file stays usable and nothing
	// is left behind whatever happens next. clearSpool covers a crash in
	// between.
	if _, err := f.Write(head); err != nil {
		s.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	rest, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.size += rest
	h.Sum(s.sum[:0])
	if err := os.Remove(f.Name()); err != nil {
		s.Close()
		return nil, fmt.Errorf("spool: %w", err)
	}
	return s, nil
}

// spill moves a spool held in memory to a file in dir: a message kept
// until its batch is written (one to quarantine) may wait behind batches
// fetched ahead, and should hold disk meanwhile, not memory.
func (s *spool) spill(dir string) error {
	if s.mem == nil {
		return nil
	}
	f, err := spoolFile(dir, s.mem, strings.NewReader(""), sha256.New())
	if err != nil {
		return err
	}
	releaseBuffer(s.mem)
	s.mem, s.file = nil, f.file
	return nil
}

func releaseBuffer(b []byte) {
	b = b[:0]
	spoolBuffers.Put(&b)
}

// Reader reads the message from its start; readers may be used
// concurrently.
func (s *spool) Reader() io.Reader {
	if s.file == nil {
		return bytes.NewReader(s.mem)
	}
	return io.NewSectionReader(s.file, 0, s.size)
}

// parse parses the message. One in a file is parsed where it lies: the
// large attachments of its Files are read from the file when written, so
// the spool must stay open until then.
func (s *spool) parse() (*extract.Message, error) {
	if s.file == nil {
		return extract.ParseBytes(s.mem)
	}
	return extract.ParseAt(s.file, s.size)
}

// Close releases the spool; what was parsed from it must no longer be
// used.
func (s *spool) Close() {
	if s.mem != nil {
		releaseBuffer(s.mem)
		s.mem = nil
	}
	if s.file != nil {
		name := s.file.Name()
		s.file.Close()
		os.Remove(name) // already gone unless newSpool failed half-way
		s.file = nil
	}
}
