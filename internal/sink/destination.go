package sink

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
)

// Destination is where a task's files go, as a pipeline sees it: a folder
// on a filesystem (Local, over a Dir) or a bucket and prefix of an object
// store (package objsink). Both write create-only: identical content
// under a name is recognised (Stored.Existing), never copied twice, and
// different content meets the Policy's Collision.
//
// The pipeline uses it as it uses a Dir: Folder for the folder below the
// destination a message goes to; Stage on as many goroutines as there are
// files (writing, under no name yet); Flush once per batch; PutStaged in
// message order (naming), or, up to PutsAtOnce at a time, in message
// order within each name Family; Sync once per batch before the commit.
type Destination interface {
	// Folder returns the folder rel below the destination, a slash path
	// of segments each as CheckName requires ("" for the destination).
	Folder(rel string) (Folder, error)
	// Flush makes the content staged so far durable, once per batch.
	Flush(ctx context.Context) error
	// Sync makes every name given so far durable, once per batch before
	// its commit.
	Sync(ctx context.Context) error
	// PutsAtOnce is how many PutStaged calls may run at once, for names
	// of different families: 1 for a folder on disk, where naming is a
	// link on the same disk; more for an object store, where each is a
	// request that waits on the store.
	PutsAtOnce() int
	// Locate tells where a file put at rel (Stored.Rel) is, for hooks.
	Locate(rel string) Location
	// Open reads the file at rel: a message kept aside in the
	// destination, taken again from that copy.
	Open(ctx context.Context, rel string) (io.ReadCloser, error)
	// Path names the destination in messages.
	Path() string
	Close() error
}

// Folder is one folder of a Destination.
type Folder interface {
	// Stage writes content ahead, under no name yet, to be named by
	// PutStaged under policy p.
	Stage(content io.Reader, p Policy) (Pending, error)
	// PutStaged names content Stage returned, applying its policy, and
	// releases it whatever the outcome. name is a single segment
	// (CheckName).
	PutStaged(ctx context.Context, name string, s Pending) (Stored, error)
	// Fits tells why a file named name (a single segment, CheckName)
	// cannot be put in the folder, nil if it can: an object store's keys
	// are at most 1,024 bytes. It is asked before anything of a message
	// is staged, so that a message whose names do not fit is kept aside
	// whole rather than failing its batch on every run.
	Fits(name string) error
	// Path names the folder in messages.
	Path() string
}

// Pending is content staged and not yet named.
type Pending interface {
	// Discard releases content that will not be named.
	Discard()
}

// Location is where a file is: a path on a filesystem, or an object's key
// and URL (s3://bucket/key) in an object store.
type Location struct {
	Path     string
	Key, URL string
}

// Local is the Destination of a Dir, which Local owns from then on (its
// Close closes d).
func Local(d *Dir) Destination { return local{d} }

type local struct{ d *Dir }

func (l local) Folder(rel string) (Folder, error) {
	sub, err := l.d.Folder(rel)
	if err != nil {
		return nil, err
	}
	return localFolder{sub}, nil
}

func (l local) Flush(context.Context) error { return l.d.Flush() }
func (l local) Sync(context.Context) error  { return l.d.Sync() }
func (l local) Path() string                { return l.d.Path() }
func (l local) PutsAtOnce() int             { return 1 }
func (l local) Close() error                { return l.d.Close() }

// Open reads through the folder's os.Root, as it writes: a link planted
// in the destination cannot have another file read as rel.
func (l local) Open(_ context.Context, rel string) (io.ReadCloser, error) {
	return l.d.root.Open(filepath.FromSlash(rel))
}

func (l local) Locate(rel string) Location {
	return Location{Path: filepath.Join(l.d.Path(), filepath.FromSlash(rel))}
}

type localFolder struct{ d *Dir }

func (f localFolder) Stage(content io.Reader, p Policy) (Pending, error) {
	s, err := f.d.Stage(content, p)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (f localFolder) PutStaged(_ context.Context, name string, p Pending) (Stored, error) {
	s, ok := p.(*Staged)
	if !ok {
		p.Discard()
		return Stored{}, fmt.Errorf("write %q in %s: content staged in another kind of destination", name, f.d.Path())
	}
	return f.d.PutStaged(name, s)
}

// Fits is nil: every segment CheckName lets through fits a folder on
// disk, which is opened segment by segment, so no path limit applies.
func (f localFolder) Fits(string) error { return nil }

func (f localFolder) Path() string { return f.d.Path() }
