package sink

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// tempPrefix marks files that are still being written. Anything carrying it
// after a run is debris from a crash and is never a finished file. The
// writer's owner tag follows (tempName), so that a writer cleans up only
// its own debris: several tasks may share a destination, and another's
// temporary file may be content it has staged and not yet named.
const tempPrefix = ".mailtask-tmp-"

// tempName is a new temporary file name of the writer tagged tag.
func tempName(tag string) string {
	return tempPrefix + tag + "." + rand.Text()
}

// ownerTag is the part of temporary names that stands for owner: short,
// and safe in a file name whatever owner holds.
func ownerTag(owner string) string {
	sum := sha256.Sum256([]byte(owner))
	return hex.EncodeToString(sum[:6])
}

// isDebris reports whether name is a temporary file that the writer
// tagged tag may remove: its own, or one from before temporary names
// carried a tag.
func isDebris(name, tag string) bool {
	rest, ok := strings.CutPrefix(name, tempPrefix)
	if !ok {
		return false
	}
	owner, _, tagged := strings.Cut(rest, ".")
	return !tagged || owner == tag
}

// Dir is one destination folder opened for writing.
type Dir struct {
	path string
	root *os.Root
	// noLink is set once the filesystem has refused a hard link, so later
	// Puts go straight to the rename fallback.
	noLink atomic.Bool
	// rel is the folder's slash path below the destination ("" for the
	// destination itself), tree what the destination's folders share.
	rel  string
	tree *tree
	// spares keeps a file created ahead for the next Put.
	spares spares
	// flushes is set when the destination's Flush makes content staged
	// here durable, so that Stage need not fsync it (flush.go).
	flushes bool
	// families is what PutStaged learnt of each name's " (n)" variants
	// (suffix.go).
	familiesMu sync.Mutex
	families   map[string]*family
	// looks counts the entries looked up or read to name content, which
	// is what naming costs (the tests bound it).
	looks atomic.Int64
	// reread counts the bytes of files read back to hash them for naming.
	reread atomic.Int64
}

// Open creates path (with parents, mode 0755) if it is missing, opens it for
// writing on behalf of owner (mailtask passes the task), and removes the
// temporary files a crashed earlier run of owner left behind. Only one
// writer per owner may use a destination at a time (the task lock sees to
// that); those of other owners may share it.
func Open(path, owner string) (*Dir, error) {
	return open(path, owner, modes{file: 0o644, dir: 0o755})
}

// OpenPrivate is Open for a folder only its owner may read, such as the
// quarantine under the state directory: files are created 0600 and
// folders 0700, path itself included, even if it was there before.
func OpenPrivate(path, owner string) (*Dir, error) {
	d, err := open(path, owner, modes{file: 0o600, dir: 0o700})
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o700); err != nil {
		d.Close()
		return nil, fmt.Errorf("open %s: %w", path, cause(err))
	}
	return d, nil
}

// modes are the permissions of what a Dir creates.
type modes struct{ file, dir os.FileMode }

func open(path, owner string, m modes) (*Dir, error) {
	if err := os.MkdirAll(path, m.dir); err != nil {
		return nil, fmt.Errorf("create destination %s: %w", path, err)
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, fmt.Errorf("open destination %s: %w", path, cause(err))
	}
	d := &Dir{path: path, root: root}
	d.tree = &tree{top: d, subs: map[string]*Dir{}, tag: ownerTag(owner), modes: m}
	// The destination stays open for Flush to sync through (flush.go).
	if f, err := root.Open("."); err == nil {
		if canFlush(f) {
			d.tree.flushDir, d.flushes = f, true
		} else {
			f.Close()
		}
	}
	if err := d.removeTemps(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Path returns the destination folder as given to Open.
func (d *Dir) Path() string { return d.path }

// Sync makes every Put so far durable by flushing the folder's directory
// entries, and those of the folders Folder opened or created below it.
// Callers do this once per batch rather than once per file.
func (d *Dir) Sync() error {
	if err := d.tree.sync(d); err != nil {
		return err
	}
	return d.syncSelf()
}

func (d *Dir) syncSelf() error {
	f, err := d.root.Open(".")
	if err != nil {
		return fmt.Errorf("sync destination %s: %w", d.path, cause(err))
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync destination %s: %w", d.path, cause(err))
	}
	return nil
}

// Close releases the folder and those Folder opened below it. It does not
// Sync.
func (d *Dir) Close() error {
	d.stopSpares()
	d.tree.close(d)
	if d == d.tree.top && d.tree.flushDir != nil {
		d.tree.earlyRun.Wait()
		d.tree.flushDir.Close()
	}
	if err := d.root.Close(); err != nil {
		return fmt.Errorf("close destination %s: %w", d.path, err)
	}
	return nil
}

func (d *Dir) removeTemps() error {
	f, err := d.root.Open(".")
	if err != nil {
		return fmt.Errorf("list destination %s: %w", d.path, cause(err))
	}
	defer f.Close()
	for {
		// Read in chunks: a watched drop folder can hold many files.
		entries, err := f.ReadDir(1024)
		for _, e := range entries {
			if e.IsDir() || !isDebris(e.Name(), d.tree.tag) {
				continue
			}
			if err := d.root.Remove(e.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove leftover temporary file %q in %s: %w", e.Name(), d.path, cause(err))
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list destination %s: %w", d.path, cause(err))
		}
	}
}

// cause strips the path an *os.PathError or *os.LinkError carries: errors
// from this package name the destination and the intended file themselves,
// and the temporary name means nothing to an operator.
func cause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
