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

// A batch of large files would have its Flush wait for all of them to be
// written to the disk, only once the last is staged: for 30 attachments
// of 4 MB, a tenth of the run's time, at its end. So every flushAhead
// bytes staged start a Flush in the background (flushEarly), and the
// batch's own Flush finds at most that much left to write. Not less: each
// sync commits the filesystem's journal, and 16 MB nearly doubled the
// syncs of a run of 500 messages, whose batches are flushed while the
// next are fetched. A Flush that
// fails fails every later one: syncfs reports a write-back error to one
// call only, and the content it was to make durable may be lost.
const flushAhead = 32 << 20

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
	t.flushing.Lock()
	defer t.flushing.Unlock()
	if t.flushErr != nil {
		return t.flushErr
	}
	covered := t.staged.Load()
	if covered <= t.flushed.Load() {
		return nil // nothing staged since the last Flush
	}
	t.ahead.Store(0)
	if err := syncFilesystem(t.flushDir); err != nil {
		t.flushErr = fmt.Errorf("flush destination %s: %w", t.top.path, err)
		return t.flushErr
	}
	t.flushed.Store(covered)
	return nil
}

// flushEarly counts size bytes staged for a Flush, and starts one in the
// background once flushAhead of them wait for it, unless one runs.
func (t *tree) flushEarly(size int64) {
	if t.ahead.Add(size) < flushAhead || !t.early.CompareAndSwap(false, true) {
		return
	}
	t.earlyRun.Go(func() {
		defer t.early.Store(false)
		t.top.Flush() // its failure is the next Flush's
	})
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
