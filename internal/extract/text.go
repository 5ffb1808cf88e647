package extract

import (
	"bytes"
	"io"
	"sync"
)

// textBlock is how much of a message text reads at a time when the message
// is not held in memory.
const textBlock = 1 << 20

// text is a message as scanShape and elide see it: an io.ReaderAt read a
// window at a time, so that a message spooled to disk is looked at without
// being held in memory; or, for a message already in memory, a window that
// is the whole message and is never read again.
type text struct {
	r     io.ReaderAt
	size  int
	buf   []byte // the bytes at off, up to off+len(buf)
	off   int
	whole bool  // buf is the whole message
	block int   // bytes read at a time
	err   error // the first read error; the text ends where it occurred
}

// textOf is the text of a message held in memory.
func textOf(raw []byte) *text {
	return &text{r: inMemory(raw), size: len(raw), buf: raw, whole: true}
}

// inMemory is a message held in memory, as the source of the Files that
// read it: the decoders of this package read it in place rather than
// copying it window by window (see windows).
type inMemory []byte

func (m inMemory) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// windowSize is how much windows reads at a time from a source not in
// memory.
const windowSize = 64 << 10

// windowBuffers hold the windows of windows and of the decoders that read
// a body as its File is read: allocated for each, they were most of what
// writing an attachment allocated.
var windowBuffers = sync.Pool{New: func() any { return new([windowSize]byte) }}

// windows calls fn with the bytes of src in [start, end), a window at a
// time, and where each window starts: in place for a message in memory,
// read into a buffer otherwise.
func windows(src io.ReaderAt, start, end int64, fn func(w []byte, off int64)) error {
	if m, ok := src.(inMemory); ok {
		fn(m[start:end], start)
		return nil
	}
	buf := windowBuffers.Get().(*[windowSize]byte)
	defer windowBuffers.Put(buf)
	for off := start; off < end; {
		n, err := src.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		if n == 0 && err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		fn(buf[:n], off)
		off += int64(n)
	}
	return nil
}

// textAt is the text of a message of size bytes stored in r.
func textAt(r io.ReaderAt, size int64) *text {
	return &text{r: r, size: int(size), block: textBlock}
}

// from returns the bytes from a on, at least n of them unless the message
// ends sooner. The slice is valid until the next call.
func (t *text) from(a, n int) []byte {
	a = min(a, t.size)
	if a < t.off || min(a+n, t.size) > t.off+len(t.buf) {
		t.fill(a, max(n, t.block))
	}
	return t.buf[a-t.off:]
}

func (t *text) fill(a, n int) {
	n = min(n, t.size-a)
	if cap(t.buf) < n {
		t.buf = make([]byte, n)
	}
	t.buf = t.buf[:n]
	k, err := t.r.ReadAt(t.buf, int64(a))
	if k < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the message is shorter than its size
		}
		t.fail(err)
		t.size = a + k
		t.buf = t.buf[:k]
	}
	t.off = a
}

// slice returns the bytes in [a, b). The slice is valid until the next call.
func (t *text) slice(a, b int) []byte {
	return t.from(a, b-a)[:min(b, t.size)-min(a, t.size)]
}

// read returns the bytes in [a, b) in a slice of their own, or of the
// message when it is in memory.
func (t *text) read(a, b int) []byte {
	if t.whole {
		return t.buf[a:b]
	}
	return bytes.Clone(t.slice(a, b))
}

// at is the byte at i.
func (t *text) at(i int) byte {
	return t.from(i, 1)[0]
}

// index is the offset of the first sep at or after from, -1 if none.
func (t *text) index(from int, sep []byte) int {
	return t.indexBefore(from, t.size, sep)
}

// indexBefore is index for a sep that starts before to; it looks at no
// byte past the last such sep could hold.
func (t *text) indexBefore(from, to int, sep []byte) int {
	for from < to {
		w := t.from(from, len(sep))
		if lim := to - from + len(sep) - 1; len(w) > lim {
			w = w[:lim]
		}
		if j := bytes.Index(w, sep); j >= 0 {
			return from + j
		}
		if from+len(w) >= t.size {
			break
		}
		from += len(w) - len(sep) + 1
	}
	return -1
}

// hasPrefix reports whether the bytes at i start with prefix.
func (t *text) hasPrefix(i int, prefix []byte) bool {
	return bytes.HasPrefix(t.from(i, len(prefix)), prefix)
}

// section reads the bytes in [a, b). A read error is kept in t.err, so
// that a failing disk is not mistaken for a malformed message.
func (t *text) section(a, b int) io.Reader {
	return &textReader{t, io.NewSectionReader(t.r, int64(a), int64(b-a))}
}

type textReader struct {
	t *text
	r io.Reader
}

func (r *textReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.t.fail(err)
	}
	return n, err
}

// fail records a read error, the first one only.
func (t *text) fail(err error) {
	if t.err == nil {
		t.err = err
	}
}
