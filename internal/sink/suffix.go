package sink

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
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
	// The regular files among the variants below next: by size until
	// their head is read, then by size and head (headOf).
	unread map[int64][]int
	byHead map[head][]int
	headed map[int64]bool // sizes in byHead
}

// head identifies a file by its size and the SHA-256 of its first
// headSize bytes. Two files of one name and size seldom begin alike
// unless they are the same (the same logo in every message); those that
// do are compared whole.
type head struct {
	size int64
	sum  [32]byte
}

// headSize is how much of a file head reads: a file of a name and size
// met before used to be read back whole, to hash it, which cost a run of
// same-named 4 MB attachments a tenth of its CPU.
const headSize = copyBufferSize

// family returns name's family in d.
func (d *Dir) family(name string) *family {
	d.familiesMu.Lock()
	defer d.familiesMu.Unlock()
	if d.families == nil {
		d.families = map[string]*family{}
	}
	f := d.families[name]
	if f == nil {
		f = &family{unread: map[int64][]int{}, byHead: map[head][]int{}, headed: map[int64]bool{}}
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

	// Identical content under a variant passed over before: only a file
	// of the same size and head can be one.
	var ours *head
	if len(f.unread[st.Size]) > 0 || f.headed[st.Size] {
		if err := f.readHeads(d, name, st.Size); err != nil {
			return Stored{}, err
		}
		h, err := d.headOf(tmp)
		if err != nil {
			return Stored{}, fmt.Errorf("write %q in %s: %w", name, d.path, err)
		}
		ours = &h
		for _, n := range f.byHead[h] {
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
			if ours != nil {
				f.add(*ours, f.next)
			} else {
				f.unread[st.Size] = append(f.unread[st.Size], f.next)
			}
			st.Name, st.Existing = cand, existing
			f.next++
			return st, nil
		case taker != nil && taker.Mode().IsRegular():
			f.unread[taker.Size()] = append(f.unread[taker.Size()], f.next)
		}
	}
	sum, err := d.stagedSum(tmp, st)
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

// readHeads reads the heads of the variants of size bytes not read yet,
// once each.
func (f *family) readHeads(d *Dir, name string, size int64) error {
	for _, n := range f.unread[size] {
		h, err := d.headOf(Candidate(name, n))
		switch {
		case err == nil:
			f.add(h, n)
		case errorsIsNotExist(err):
			// Gone since (downstream took it): nothing to match.
		default:
			return fmt.Errorf("write %q in %s: read %q: %w", name, d.path, Candidate(name, n), err)
		}
	}
	delete(f.unread, size)
	return nil
}

func (f *family) add(h head, n int) {
	f.byHead[h] = append(f.byHead[h], n)
	f.headed[h.size] = true
}

// HashedName is the variant of name past maxSuffix: "stem (#digits of the
// content's SHA-256).ext". The same content always gets the same name, so
// a re-run after a crash finds it there.
func HashedName(name string, sum [32]byte, digits int) string {
	return candidateWith(name, "#"+hex.EncodeToString(sum[:])[:digits])
}

// stagedSum is the SHA-256 of the content staged as tmp: the one Stage
// took as it wrote it, if the policy asked for it, else read back.
func (d *Dir) stagedSum(tmp string, st Stored) ([32]byte, error) {
	if st.SHA256 != [32]byte{} {
		return st.SHA256, nil
	}
	f, err := d.openRegular(tmp)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	return d.hashRead(f, -1)
}

// headOf is the head of the regular file name in d, never following a
// symlink.
func (d *Dir) headOf(name string) (head, error) {
	f, err := d.openRegular(name)
	if err != nil {
		return head{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return head{}, cause(err)
	}
	sum, err := d.hashRead(f, headSize)
	return head{size: fi.Size(), sum: sum}, err
}

// openRegular opens the regular file name in d, never following a
// symlink; anything else is fs.ErrNotExist.
func (d *Dir) openRegular(name string) (*os.File, error) {
	d.looks.Add(1)
	fi, err := d.root.Lstat(name)
	if err != nil {
		return nil, cause(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	f, err := d.root.Open(name)
	return f, cause(err)
}

// hashRead returns the SHA-256 of the first limit bytes of f, or of all
// of it if limit is negative, counting them in d.reread.
func (d *Dir) hashRead(f *os.File, limit int64) ([32]byte, error) {
	var sum [32]byte
	var r io.Reader = f
	if limit >= 0 {
		r = io.LimitReader(f, limit)
	}
	h := sha256.New()
	buf := copyBuffers.Get().(*[copyBufferSize]byte)
	n, err := io.CopyBuffer(h, r, buf[:])
	copyBuffers.Put(buf)
	d.reread.Add(n)
	if err != nil {
		return sum, cause(err)
	}
	h.Sum(sum[:0])
	return sum, nil
}
