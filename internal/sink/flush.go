package sink

import "fmt"

// An fsync per file is most of what a Put costs where the disk is virtual:
// each is several I/O requests, a cache flush and as many exits to the
// hypervisor. Where the destination's filesystem is known to write back
// everything and report the errors of any file when asked to sync as a
// whole (syncfs(2): ext4, XFS and Btrfs, on Linux 5.8 and later), staged
// content is not fsynced one file at a time: one Flush makes everything
// staged so far durable before it is named. PutStaged still fsyncs what no
// Flush has covered, so no content gets a name before it is durable,
// whether the caller flushes or not. Elsewhere (FUSE and network mounts,
// whose sync as a whole may not reach the storage) Stage fsyncs each file.
//
// syncfs reports a write-back error to a file descriptor only if it
// happened since the descriptor was opened, or nobody has seen it yet; the
// destination keeps one open from Open on, so that an error in writing
// back staged content early, before the Flush, is not missed.

// Flush makes the content staged so far anywhere under the destination
// durable, with one sync of its filesystem where it can and otherwise
// nothing to do: Stage has fsynced it. It syncs whatever else is pending
// on that filesystem too, so callers flush once per batch, not per file;
// with nothing staged since the last Flush there is nothing to sync for.
func (d *Dir) Flush() error {
	t := d.tree
	if !t.top.flushes {
		return nil
	}
	covered := t.staged.Load()
	if covered <= t.flushed.Load() {
		return nil // nothing staged since the last Flush
	}
	if err := syncFilesystem(t.flushDir); err != nil {
		return fmt.Errorf("flush destination %s: %w", t.top.path, err)
	}
	// Only forward: a Flush that started earlier may end later.
	for {
		done := t.flushed.Load()
		if done >= covered || t.flushed.CompareAndSwap(done, covered) {
			return nil
		}
	}
}

// makeDurable fsyncs s unless it was fsynced when staged or a Flush has
// covered it since.
func (s *Staged) makeDurable() error {
	if s.seq == 0 || s.seq <= s.d.tree.flushed.Load() {
		return nil
	}
	f, err := s.d.root.Open(s.tmp)
	if err != nil {
		return cause(err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return cause(err)
	}
	s.seq = 0
	return nil
}
