package sink

import (
	"errors"
	"fmt"
	"io"
	"path"
)

// Collision is what PutWith does when a name is taken by different
// content. Identical content under the name is never a collision: it is
// reported as Existing, which is what makes a re-run after a crash quiet.
type Collision int

const (
	// Suffix tries "stem (1).ext", "stem (2).ext", ... (Put's behaviour).
	Suffix Collision = iota
	// Overwrite replaces what holds the name, atomically.
	Overwrite
	// Skip writes nothing and reports Skipped.
	Skip
	// Fail writes nothing and returns an error wrapping ErrCollision.
	Fail
)

// ErrCollision is wrapped by PutWith's error under the Fail policy.
var ErrCollision = errors.New("the name is taken by a different file")

// Policy shapes one PutWith.
type Policy struct {
	Collision Collision
	// Dedupe writes nothing when identical content is already anywhere
	// under the destination, and reports where in Stored.Duplicate.
	Dedupe bool
	// Hash fills Stored.SHA256. It costs hashing the content as it is
	// written, so callers that do not show it leave it off.
	Hash bool
}

func (p Policy) needsHash() bool { return p.Hash || p.Dedupe }

// Rel is where Put left the content, relative to the destination.
func (s Stored) Rel() string { return path.Join(s.Dir, s.Name) }

// PutWith is Put with a collision policy and optional dedupe; Put is
// PutWith with a Policy that only asks for the hash. Named at once, the
// content has no Flush to wait for: it is fsynced as it is written.
func (d *Dir) PutWith(name string, content io.Reader, p Policy) (Stored, error) {
	s, err := d.stage(content, p, fillMode{hash: p.needsHash(), sync: true})
	if err != nil {
		return Stored{}, fmt.Errorf("write %q in %s: %w", name, d.path, err)
	}
	return d.PutStaged(name, s)
}

// Staged is content written into a folder, under no name yet. Writing is
// the slow part of a Put and may run on many goroutines at once;
// PutStaged then only names the content, which callers wanting stable
// names do in order.
type Staged struct {
	d   *Dir
	tmp string
	p   Policy // the one PutStaged applies
	st  Stored // with the SHA256 if p asks for it
	seq uint64 // the destination's count of Stages when this one was done; 0 if fsynced
}

// Stage writes content into d under a temporary name, to be named under
// policy p; if p needs the content's hash, it is taken as the content is
// written, on the caller's goroutine. The Staged is given a name by
// PutStaged, or released by Discard; a crash in between leaves a temporary
// file the next Open removes.
//
// The content is durable before PutStaged gives it its name: Stage fsyncs
// it, or, where the destination's filesystem can flush everything at once
// (flush.go), the next Flush covers it, and PutStaged fsyncs whatever no
// Flush has covered.
func (d *Dir) Stage(content io.Reader, p Policy) (*Staged, error) {
	return d.stage(content, p, fillMode{hash: p.needsHash(), sync: !d.flushes})
}

func (d *Dir) stage(content io.Reader, p Policy, m fillMode) (*Staged, error) {
	tmp, st, err := d.writeTemp(content, m)
	if err != nil {
		return nil, err
	}
	s := &Staged{d: d, tmp: tmp, p: p, st: st}
	if !m.sync {
		s.seq = d.tree.staged.Add(1)
		d.tree.flushEarly(st.Size)
	}
	return s, nil
}

// Discard removes content staged and not put.
func (s *Staged) Discard() {
	s.d.root.Remove(s.tmp)
}

// PutStaged is PutWith for content staged in d: it names it, applying the
// policy it was staged under, and releases the Staged whatever the
// outcome.
func (d *Dir) PutStaged(name string, s *Staged) (Stored, error) {
	// After a link the data lives on under the final name and tmp is a second
	// name for it; after a rename tmp is already gone. Either way removing it
	// is right, and a failure here only leaves debris the next Open clears.
	defer s.Discard()
	if s.d != d {
		return Stored{}, fmt.Errorf("write %q in %s: content staged in %s", name, d.path, s.d.path)
	}
	if err := CheckName(name); err != nil {
		return Stored{}, fmt.Errorf("write %q in %s: %w", name, d.path, err)
	}
	if err := s.makeDurable(); err != nil {
		return Stored{}, fmt.Errorf("write %q in %s: %w", name, d.path, err)
	}
	tmp, st, p := s.tmp, s.st, s.p
	st.Dir = d.rel

	if p.Dedupe {
		d.tree.mu.Lock()
		defer d.tree.mu.Unlock()
		if fi, err := d.root.Lstat(name); err == nil {
			if same, err := d.sameContent(name, fi, tmp, st.Size); err != nil {
				return Stored{}, fmt.Errorf("write %q in %s: %w", name, d.path, err)
			} else if same {
				st.Name, st.Existing = name, true
				return st, nil
			}
		}
		dup, err := d.tree.find(st)
		if err != nil {
			return Stored{}, err
		}
		if dup != "" {
			st.Duplicate = dup
			return st, nil
		}
		defer func() {
			if st.Name != "" && !st.Skipped && !st.Existing {
				d.tree.add(st.Rel(), st)
			}
		}()
	}

	if p.Collision == Suffix {
		// Into st itself, which the dedupe index (deferred above) reads.
		var err error
		st, err = d.putSuffixed(name, tmp, st)
		return st, err
	}

	existing, placed, _, err := d.claim(tmp, name, st.Size)
	if err != nil {
		return Stored{}, fmt.Errorf("write %q in %s: %w", name, d.path, err)
	}
	if placed || existing {
		st.Name, st.Existing = name, existing
		return st, nil
	}
	switch p.Collision {
	case Skip:
		st.Name, st.Skipped = name, true
		return st, nil
	case Fail:
		return Stored{}, fmt.Errorf("write %q in %s: %w (on_collision = \"fail\")", name, d.path, ErrCollision)
	}
	// Overwrite. Rename replaces a file or a symlink itself, never what a
	// symlink points to; it fails on a folder.
	if err := d.root.Rename(tmp, name); err != nil {
		return Stored{}, fmt.Errorf("replace %q in %s: %w", name, d.path, cause(err))
	}
	st.Name, st.Replaced = name, true
	return st, nil
}
