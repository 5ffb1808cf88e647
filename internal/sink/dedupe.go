package sink

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// index finds files by content anywhere under the destination, for
// dedupe. It is built on first use by walking the destination and
// remembering each regular file's size; a file is hashed only when
// something of its size is looked up, and then once.
type index struct {
	bySize map[int64][]string  // rel paths
	hashes map[string][32]byte // rel path -> sha256, once computed
}

// find returns the rel path of a file under the destination holding
// exactly the content st describes, or "". It holds t.mu.
func (t *tree) find(st Stored) (string, error) {
	if t.index == nil {
		idx, err := t.build()
		if err != nil {
			return "", err
		}
		t.index = idx
	}
	for _, rel := range t.index.bySize[st.Size] {
		sum, ok := t.index.hashes[rel]
		if !ok {
			var err error
			if sum, err = t.hash(rel); err != nil {
				continue // removed or unreadable since the walk: not a match
			}
			t.index.hashes[rel] = sum
		}
		if sum == st.SHA256 {
			return rel, nil
		}
	}
	return "", nil
}

// add records a file just placed, if the index exists yet.
func (t *tree) add(rel string, st Stored) {
	if t.index == nil {
		return
	}
	t.index.bySize[st.Size] = append(t.index.bySize[st.Size], rel)
	t.index.hashes[rel] = st.SHA256
}

func (t *tree) build() (*index, error) {
	idx := &index{bySize: map[int64][]string{}, hashes: map[string][32]byte{}}
	err := fs.WalkDir(t.top.root.FS(), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), tempPrefix) {
			return nil // folders are walked, symlinks never followed
		}
		fi, err := e.Info()
		if err != nil {
			return nil // gone since listed
		}
		idx.bySize[fi.Size()] = append(idx.bySize[fi.Size()], path.Clean(p))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index destination %s for dedupe: %w", t.top.path, cause(err))
	}
	return idx, nil
}

func (t *tree) hash(rel string) ([32]byte, error) {
	var sum [32]byte
	f, err := t.top.root.Open(rel)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return sum, fmt.Errorf("%s is not a regular file", rel)
	}
	return hashOf(f)
}

// hashOf is the SHA-256 of what r reads.
func hashOf(r io.Reader) ([32]byte, error) {
	var sum [32]byte
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return sum, cause(err)
	}
	h.Sum(sum[:0])
	return sum, nil
}
