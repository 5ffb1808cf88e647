package popimap

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"mailtask/internal/extract"
)

// SpoolDir is where a task's messages too large to keep in memory (see
// memory.go) are kept while they are processed, beside its state.
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
	mem  []byte  // from pool, nil when the message is in file
	pool *memory // where mem goes back
	file *os.File
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

// newSpool copies from into a spool, hashing it on the way: into a buffer
// of mem when sizeHint, the size the server announced (which need not be
// exact), is at most mem.largest() and the message fits, waiting for room
// in mem's budget; into a file in dir for a larger message, or for the
// rest of one larger than announced. A failure to read from is a
// *readError.
func newSpool(ctx context.Context, dir string, from io.Reader, sizeHint int64, mem *memory) (*spool, error) {
	r := errReader{from}
	h := sha256.New()
	if sizeHint > mem.largest() {
		return spoolFile(dir, nil, r, h)
	}
	buf, err := mem.take(ctx, max(sizeHint, 0)+bytes.MinRead)
	if err != nil {
		return nil, err
	}
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		h.Write(buf[len(buf) : len(buf)+n])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			s := &spool{mem: buf, pool: mem, size: int64(len(buf))}
			h.Sum(s.sum[:0])
			return s, nil
		}
		if err != nil {
			mem.give(buf)
			return nil, err
		}
		if len(buf) == cap(buf) {
			break
		}
	}
	// Larger than announced: the rest goes to a file after what was read.
	s, err := spoolFile(dir, buf, r, h)
	mem.give(buf)
	return s, err
}

// spoolFile spools a message to a file in dir: head, already read and
// hashed into h, then the rest of r.
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
	s.pool.give(s.mem)
	s.mem, s.file = nil, f.file
	return nil
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
		s.pool.give(s.mem)
		s.mem = nil
	}
	if s.file != nil {
		name := s.file.Name()
		s.file.Close()
		os.Remove(name) // already gone unless newSpool failed half-way
		s.file = nil
	}
}
