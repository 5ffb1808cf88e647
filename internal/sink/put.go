package sink

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"sync"
)

// Stored describes where Put left content.
type Stored struct {
	Name string // the name used, relative to the folder
	Size int64
	// SHA256 is the content's, when the Policy asked for it (Hash or
	// Dedupe), as Put does; zero otherwise.
	SHA256   [32]byte
	Existing bool // identical content was already there under Name; nothing written
	// Dir is the folder below the destination ("" for the destination
	// itself); see Folder.
	Dir string
	// The outcomes of PutWith's policies; nothing was written unless
	// Replaced.
	Skipped   bool   // Name was taken by different content (Skip)
	Replaced  bool   // Name held different content, now replaced (Overwrite)
	Duplicate string // the identical file found elsewhere (Dedupe), relative to the destination
}

// Put stores content under name, a single path segment the caller has
// already sanitised, and never overwrites anything.
//
// If name is free it is used. If a regular file of that name already holds
// identical content, Put returns that name with Existing set and writes
// nothing, so re-ingesting a message after a crash or a UIDVALIDITY change
// leaves one copy. Otherwise it tries "stem (1).ext", "stem (2).ext", and so
// on. Symlinks, folders and other non-regular entries count as taken by
// something different and are never followed.
//
// Put is safe for concurrent use; two Puts racing for one name end up with
// distinct names or, for equal content, one file. It does not make the new
// directory entry durable: call Sync once for a batch.
func (d *Dir) Put(name string, content io.Reader) (Stored, error) {
	return d.PutWith(name, content, Policy{Hash: true})
}

// claim tries to put tmp, of size bytes, under cand. It reports existing
// when cand already holds the same content, placed when tmp now lives
// under cand, and neither when cand is taken by something different,
// described by taker.
func (d *Dir) claim(tmp, cand string, size int64) (existing, placed bool, taker fs.FileInfo, err error) {
	for {
		d.looks.Add(1)
		fi, err := d.root.Lstat(cand)
		if errors.Is(err, fs.ErrNotExist) {
			err = d.place(tmp, cand)
			if errors.Is(err, fs.ErrExist) {
				// Another writer won the name between Lstat and here; look
				// at what it wrote, it may be our content.
				continue
			}
			return false, err == nil, nil, cause(err)
		}
		if err != nil {
			return false, false, nil, cause(err)
		}
		same, err := d.sameContent(cand, fi, tmp, size)
		if same || err != nil {
			return same, false, nil, err
		}
		return false, false, fi, nil
	}
}

func errorsIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// place gives tmp the name cand, failing with fs.ErrExist if cand is taken.
func (d *Dir) place(tmp, cand string) error {
	if !d.noLink.Load() {
		err := d.root.Link(tmp, cand)
		if err == nil || !linkUnsupported(err) {
			return err
		}
		d.noLink.Store(true)
	}
	// Without hard links there is no atomic create-if-absent for a whole
	// file; a concurrent writer could slip in between these two calls. Only
	// filesystems that cannot link take this path.
	if _, err := d.root.Lstat(cand); err == nil {
		return fs.ErrExist
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return d.root.Rename(tmp, cand)
}

// writeTemp streams content into a new temporary file, filling it as m
// says, and returns its name with the size of what was written, and its
// hash if m.hash. On failure nothing is left behind.
func (d *Dir) writeTemp(content io.Reader, m fillMode) (string, Stored, error) {
	if tmp, st, ok, err := d.writeSpare(content, m); ok {
		return tmp, st, cause(err)
	}
	tmp := tempName(d.tree.tag)
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, d.tree.modes.file)
	if err != nil {
		return "", Stored{}, cause(err)
	}
	st, err := fill(f, content, m)
	if cerr := f.Close(); err == nil {
		err = cause(cerr)
	}
	if err != nil {
		d.root.Remove(tmp)
		return "", Stored{}, err
	}
	return tmp, st, nil
}

// fillMode is what fill does besides copying: hash the content on the
// way, and fsync it (unless a Flush is to make it durable).
type fillMode struct{ hash, sync bool }

// fill copies content into f as m says.
func fill(f *os.File, content io.Reader, m fillMode) (Stored, error) {
	var st Stored
	src := &readErrReader{r: content}
	var r io.Reader = src
	var h hash.Hash
	if m.hash {
		h = sha256.New()
		r = io.TeeReader(src, h)
	}
	buf := copyBuffers.Get().(*[copyBufferSize]byte)
	n, err := io.CopyBuffer(writerOnly{f}, r, buf[:])
	copyBuffers.Put(buf)
	if src.err != nil {
		return st, fmt.Errorf("reading content: %w", src.err)
	}
	if err != nil {
		return st, cause(err)
	}
	if m.sync {
		if err := f.Sync(); err != nil {
			return st, cause(err)
		}
	}
	st.Size = n
	if h != nil {
		h.Sum(st.SHA256[:0])
	}
	return st, nil
}

// copyBuffers hold the buffers of fill and sameBytes: io.Copy into an
// *os.File from a reader that is not a file allocated a new 32 KB buffer
// for each file, a fifth of the memory a run allocated.
var copyBuffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

const copyBufferSize = 64 << 10

// writerOnly hides the file's ReadFrom, which would copy through a buffer
// of its own.
type writerOnly struct{ io.Writer }

// sameContent reports whether the entry cand, which Lstat described as fi,
// is a regular file holding exactly the size bytes of the file tmp.
func (d *Dir) sameContent(cand string, fi fs.FileInfo, tmp string, size int64) (bool, error) {
	if !fi.Mode().IsRegular() || fi.Size() != size {
		return false, nil
	}
	f, err := d.root.Open(cand)
	if err != nil {
		return false, cause(err)
	}
	defer f.Close()
	// The entry may have been swapped (for a symlink to another file in the
	// folder, say) since Lstat; only the file Lstat saw may count as a match.
	if ofi, err := f.Stat(); err != nil || !os.SameFile(fi, ofi) {
		return false, cause(err)
	}
	ours, err := d.root.Open(tmp)
	if err != nil {
		return false, cause(err)
	}
	defer ours.Close()
	return sameBytes(f, ours)
}

// sameBytes reports whether a and b read the same bytes.
func sameBytes(a, b io.Reader) (bool, error) {
	pa, pb := copyBuffers.Get().(*[copyBufferSize]byte), copyBuffers.Get().(*[copyBufferSize]byte)
	defer copyBuffers.Put(pa)
	defer copyBuffers.Put(pb)
	bufA, bufB := pa[:], pb[:]
	for {
		n, errA := io.ReadFull(a, bufA)
		m, errB := io.ReadFull(b, bufB)
		if n != m || !bytes.Equal(bufA[:n], bufB[:m]) {
			return false, nil
		}
		endA := errA == io.EOF || errA == io.ErrUnexpectedEOF
		endB := errB == io.EOF || errB == io.ErrUnexpectedEOF
		switch {
		case errA != nil && !endA:
			return false, cause(errA)
		case errB != nil && !endB:
			return false, cause(errB)
		case endA || endB:
			return endA && endB, nil
		}
	}
}

// readErrReader remembers the source's error so Put can tell a failing
// message stream from a failing disk.
type readErrReader struct {
	r   io.Reader
	err error
}

func (r *readErrReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}
