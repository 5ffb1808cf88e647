package sink

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// tree is what a destination and the folders opened below it share: the
// open subfolders, the folders created since the last Sync (whose parents'
// entries must be flushed too), and the content index for dedupe.
type tree struct {
	top   *Dir
	tag   string // the owner's, in temporary names (tempName)
	modes modes  // of the files and folders created

	mu      sync.Mutex
	subs    map[string]*Dir
	created []string // rel paths
	index   *index

	// staged counts the Stages that left their content to Flush; flushed
	// is the count the last Flush covered. flushDir, the destination open
	// since Open, is what Flush syncs through (flush.go).
	staged, flushed atomic.Uint64
	flushDir        *os.File
	// ahead counts the bytes staged since a Flush last started, which
	// start one in the background past flushAhead (flush.go).
	ahead atomic.Int64
	// flushing is held by each Flush while it syncs; flushErr is why one
	// failed, which every later one returns; early is set while a Flush
	// runs in the background, and done once it is over.
	flushing sync.Mutex
	flushErr error
	early    atomic.Bool
	earlyRun sync.WaitGroup
}

// Folder returns the folder rel below d, a slash-separated path of single
// segments (each as Put requires of a name), creating missing folders with
// mode 0755 (0700 under OpenPrivate). It is opened once and stays open until d is closed; Syncing d
// makes the new folders and their files durable. Like Put, it never leaves
// the destination: a symlink on the way that points outside fails.
func (d *Dir) Folder(rel string) (*Dir, error) {
	if rel == "" {
		return d, nil
	}
	full := path.Join(d.rel, rel)
	for seg := range strings.SplitSeq(rel, "/") {
		if err := CheckName(seg); err != nil {
			return nil, fmt.Errorf("folder %q in %s: %w", rel, d.path, err)
		}
	}
	t := d.tree
	t.mu.Lock()
	defer t.mu.Unlock()
	if sub, ok := t.subs[full]; ok {
		return sub, nil
	}
	top := t.top
	// Folder by folder, so that the ones created are known.
	at := ""
	for seg := range strings.SplitSeq(full, "/") {
		at = path.Join(at, seg)
		err := top.root.Mkdir(at, t.modes.dir)
		switch {
		case err == nil:
			t.created = append(t.created, at)
		case errors.Is(err, fs.ErrExist):
		default:
			return nil, fmt.Errorf("create folder %q in %s: %w", at, top.path, cause(err))
		}
	}
	root, err := top.root.OpenRoot(full)
	if err != nil {
		return nil, fmt.Errorf("open folder %q in %s: %w", full, top.path, cause(err))
	}
	sub := &Dir{path: filepath.Join(top.path, filepath.FromSlash(full)), root: root, rel: full, tree: t}
	sub.flushes = top.flushes && sameFilesystem(root, top.root)
	if err := sub.removeTemps(); err != nil {
		root.Close()
		return nil, err
	}
	t.subs[full] = sub
	return sub, nil
}

// sync flushes the subfolders of d and the parents of the folders created
// below d.
func (t *tree) sync(d *Dir) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, rel := range slices.Sorted(maps.Keys(t.subs)) {
		if within(rel, d.rel) {
			if err := t.subs[rel].syncSelf(); err != nil {
				return err
			}
		}
	}
	var pending []string
	for _, rel := range t.created {
		if !within(rel, d.rel) {
			pending = append(pending, rel)
			continue
		}
		parent := path.Dir(rel)
		if parent == "." {
			continue // the destination itself: the caller flushes it
		}
		if err := t.syncFolder(parent); err != nil {
			return err
		}
	}
	t.created = pending
	return nil
}

func (t *tree) syncFolder(rel string) error {
	f, err := t.top.root.Open(rel)
	if err != nil {
		return fmt.Errorf("sync folder %q in %s: %w", rel, t.top.path, cause(err))
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync folder %q in %s: %w", rel, t.top.path, cause(err))
	}
	return nil
}

func (t *tree) close(d *Dir) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for rel, sub := range t.subs {
		if sub != d && within(rel, d.rel) {
			sub.stopSpares()
			sub.root.Close()
			delete(t.subs, rel)
		}
	}
	// A closed folder must not be handed out again by Folder.
	delete(t.subs, d.rel)
}

// within reports whether rel lies strictly below folder ("" being the
// destination).
func within(rel, folder string) bool {
	return folder == "" || strings.HasPrefix(rel, folder+"/")
}
