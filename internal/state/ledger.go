package state

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// Fingerprint identifies a raw message: the first 8 bytes of its SHA-256.
// At 2^-64 per pair a collision within one task's lifetime is not a concern.
type Fingerprint [8]byte

// FingerprintOf shortens the SHA-256 of a raw message to its fingerprint.
func FingerprintOf(sum [32]byte) Fingerprint {
	return Fingerprint(sum[:8])
}

// Ledger is the append-only record of messages whose files were written for
// a task. It outlives UID changes and crashes between writing files and
// saving state, and it remembers a message even after downstream has taken
// its files away, so the message is never ingested a second time.
//
// The file is a plain sequence of 8-byte fingerprints. Ledger is safe for
// concurrent use within a process; across processes the TaskLock guards it.
type Ledger struct {
	mu   sync.Mutex
	f    *os.File
	path string
	size int64 // bytes of whole records on disk
	set  map[Fingerprint]struct{}
}

// OpenLedger opens (creating it if needed) the ledger of task in dir and
// reads it into memory. A partial record at the end, left by a crash during
// an append, is cut off; its message was not committed.
func OpenLedger(dir, task string) (*Ledger, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open ledger of task %q: create state directory: %w", task, err)
	}
	path := ledgerPath(dir, task)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open ledger of task %q: %w", task, err)
	}
	l, err := readLedger(f)
	if err == nil {
		// The file may be new: its directory entry must be as durable as
		// the records about to be appended.
		err = syncDir(dir)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open ledger of task %q (%s): %w", task, path, err)
	}
	return l, nil
}

func readLedger(f *os.File) (*Ledger, error) {
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	whole := len(data) - len(data)%len(Fingerprint{})
	if whole != len(data) {
		// Later appends must start on a record boundary.
		if err := f.Truncate(int64(whole)); err != nil {
			return nil, fmt.Errorf("cut off torn record: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, err
		}
	}
	l := &Ledger{f: f, path: f.Name(), size: int64(whole), set: make(map[Fingerprint]struct{}, whole/8)}
	for i := 0; i < whole; i += 8 {
		l.set[Fingerprint(data[i:i+8])] = struct{}{}
	}
	return l, nil
}

// Has reports whether f was appended to the ledger.
func (l *Ledger) Has(f Fingerprint) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.set[f]
	return ok
}

// Append records fingerprints and fsyncs them; they are durable when it
// returns. Fingerprints already recorded are not written again.
func (l *Ledger) Append(fps ...Fingerprint) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var buf []byte
	fresh := make(map[Fingerprint]struct{}, len(fps))
	for _, f := range fps {
		if _, ok := l.set[f]; ok {
			continue
		}
		if _, ok := fresh[f]; ok {
			continue
		}
		fresh[f] = struct{}{}
		buf = append(buf, f[:]...)
	}
	if len(buf) == 0 {
		return nil
	}
	_, err := l.f.WriteAt(buf, l.size)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		// Drop whatever part made it, so the next append starts on a
		// record boundary and nothing unsynced counts as recorded.
		l.f.Truncate(l.size)
		return fmt.Errorf("append to ledger %s: %w", l.path, err)
	}
	l.size += int64(len(buf))
	for f := range fresh {
		l.set[f] = struct{}{}
	}
	return nil
}

// Len returns the number of fingerprints recorded.
func (l *Ledger) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.set)
}

// Close closes the ledger file.
func (l *Ledger) Close() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("close ledger %s: %w", l.path, err)
	}
	return nil
}
