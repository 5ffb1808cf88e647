package sink

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"sync"
)

// family is what a folder has learnt of one name's " (n)" variants, so
// that naming the n-th file of a name costs about as much as the first:
// searching from "name" up for each file read the whole family again, and
// a message of 1,995 parts named invoice.pdf took most of a minute.
type family struct {
	mu sync.Mutex
	// next is the first suffix not yet looked at: every variant below it
	// was found taken (or was placed here).
	next int
	// The regular files among the variants below next: by size and
	// content hash once read, by size until then.
	bySum    map[content]int
	unhashed map[int64][]int
	hashed   map[int64]bool // sizes in bySum
}

// content identifies a file's content.
type content struct {
	size int64
	sum  [32]byte
}

// family returns name's family in d.
func (d *Dir) family(name string) *family {
	d.familiesMu.Lock()
	defer d.familiesMu.Unlock()
	if d.families == nil {
		d.families = map[string]*family{}
	}
	f := d.families[name]
	if f == nil {
		f = &family{bySum: map[content]int{}, unhashed: map[int64][]int{}, hashed: map[int64]bool{}}
		d.families[name] = f
	}
	return f
}

// putSuffixed names the staged tmp (st) name, or the first variant
// "stem (n).ext" that is free, unless a variant already holds the same
// content. Past maxSuffix variants, the name carries the content's hash
// instead of a number (HashedName), so that a folder holding that many
// files of one name slows nothing down and fails no run.
func (d *Dir) putSuffixed(name, tmp string, st Stored) (Stored, error) {
	f := d.family(name)
	f.mu.Lock()
	defer f.mu.Unlock()
	h := stagedHash{d: d, tmp: tmp, st: st}

	// Identical content under a variant passed over before: only a file
	// of the same size can be one.
	if len(f.unhashed[st.Size]) > 0 || f.hashed[st.Size] {
		if err := f.hashSize(d, name, st.Size); err != nil {
			return Stored{}, err
		}
		sum, err := h.sum()
		if err != nil {
			return Stored{}, fmt.Errorf("write %q in %s: %w", name, d.path, err)
		}
		if n, ok := f.bySum[content{st.Size, sum}]; ok {
			if s, done, err := d.tryName(tmp, Candidate(name, n), st); done || err != nil {
				return s, err
			}
		}
	}
	for ; f.next <= maxSuffix; f.next++ {
		cand := Candidate(name, f.next)
		existing, placed, taker, err := d.claim(tmp, cand, st.Size)
		if err != nil {
			return Stored{}, fmt.Errorf("write %q in %s: %w", cand, d.path, err)
		}
		switch {
		case placed || existing:
			if sum, ok := h.known(); ok {
				f.add(st.Size, sum, f.next)
			} else {
				f.unhashed[st.Size] = append(f.unhashed[st.Size], f.next)
			}
			st.Name, st.Existing = cand, existing
			f.next++
			return st, nil
		case taker != nil && taker.Mode().IsRegular():
			f.unhashed[taker.Size()] = append(f.unhashed[taker.Size()], f.next)
		}
	}
	sum, err := h.sum()
	if err != nil {
		return Stored{}, fmt.Errorf("write %q in %s: %w", name, d.path, err)
	}
	for _, digits := range []int{12, 64} {
		if s, done, err := d.tryName(tmp, HashedName(name, sum, digits), st); done || err != nil {
			return s, err
		}
	}
	return Stored{}, fmt.Errorf("write %q in %s: more than %d files of that name exist, and the name made from the content's hash is taken by another file", name, d.path, maxSuffix)
}

// tryName puts tmp under cand if cand is free or holds the same content.
func (d *Dir) tryName(tmp, cand string, st Stored) (_ Stored, done bool, _ error) {
	existing, placed, _, err := d.claim(tmp, cand, st.Size)
	if err != nil {
		return Stored{}, true, fmt.Errorf("write %q in %s: %w", cand, d.path, err)
	}
	if !placed && !existing {
		return Stored{}, false, nil
	}
	st.Name, st.Existing = cand, existing
	return st, true, nil
}

// hashSize reads the variants of size bytes not hashed yet, once each.
func (f *family) hashSize(d *Dir, name string, size int64) error {
	for _, n := range f.unhashed[size] {
		sum, err := d.hashFile(Candidate(name, n))
		switch {
		case err == nil:
			f.add(size, sum, n)
		case errorsIsNotExist(err):
			// Gone since (downstream took it): nothing to match.
		default:
			return fmt.Errorf("write %q in %s: read %q: %w", name, d.path, Candidate(name, n), err)
		}
	}
	delete(f.unhashed, size)
	return nil
}

func (f *family) add(size int64, sum [32]byte, n int) {
	f.bySum[content{size, sum}] = n
	f.hashed[size] = true
}

// HashedName is the variant of name past maxSuffix: "stem (#digits of the
// content's SHA-256).ext". The same content always gets the same name, so
// a re-run after a crash finds it there.
func HashedName(name string, sum [32]byte, digits int) string {
	return candidateWith(name, "#"+hex.EncodeToString(sum[:])[:digits])
}

// stagedHash is the staged content's SHA-256, read from its file only if
// Stage did not take it.
type stagedHash struct {
	d   *Dir
	tmp string
	st  Stored
	got bool
}

func (h *stagedHash) known() ([32]byte, bool) {
	return h.st.SHA256, h.got || h.st.SHA256 != [32]byte{}
}

func (h *stagedHash) sum() ([32]byte, error) {
	if sum, ok := h.known(); ok {
		return sum, nil
	}
	sum, err := h.d.hashFile(h.tmp)
	if err != nil {
		return sum, err
	}
	h.st.SHA256, h.got = sum, true
	return sum, nil
}

// hashFile returns the SHA-256 of the regular file name in d, never
// following a symlink.
func (d *Dir) hashFile(name string) ([32]byte, error) {
	var sum [32]byte
	d.looks.Add(1)
	fi, err := d.root.Lstat(name)
	if err != nil {
		return sum, cause(err)
	}
	if !fi.Mode().IsRegular() {
		return sum, fs.ErrNotExist
	}
	f, err := d.root.Open(name)
	if err != nil {
		return sum, cause(err)
	}
	defer f.Close()
	h := sha256.New()
	buf := copyBuffers.Get().(*[copyBufferSize]byte)
	_, err = io.CopyBuffer(h, f, buf[:])
	copyBuffers.Put(buf)
	if err != nil {
		return sum, cause(err)
	}
	h.Sum(sum[:0])
	return sum, nil
}
