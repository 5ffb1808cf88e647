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
// The file is a plain sequence of 8-byte fingerprints, read into memory on
// the first Has or Append: a poll that finds nothing new never reads it.
// Ledger is safe for concurrent use within a process; across processes the
// TaskLock guards it.
type Ledger struct {
	mu   sync.Mutex
	f    *os.File
	path string
	size int64                    // bytes of whole records on disk
	set  map[Fingerprint]struct{} // nil until loaded
}

// OpenLedger opens (creating it if needed) the ledger of task in dir. Its
// records are read when first needed; a partial record at the end, left by
// a crash during an append, is cut off then (its message was not
// committed).
func OpenLedger(dir, task string) (*Ledger, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open ledger: create state directory: %w", err)
	}
	path := ledgerPath(dir, task)
	f, err := openFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	// The file may be new: its directory entry must be as durable as the
	// records about to be appended.
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	return &Ledger{f: f, path: path}, nil
}

// load reads the records into memory once; l.mu must be held.
func (l *Ledger) load() error {
	if l.set != nil {
		return nil
	}
	data, err := io.ReadAll(io.NewSectionReader(l.f, 0, 1<<62))
	if err != nil {
		return fmt.Errorf("read ledger %s: %w", l.path, err)
	}
	whole := len(data) - len(data)%len(Fingerprint{})
	if whole != len(data) {
		// Later appends must start on a record boundary.
		err := l.f.Truncate(int64(whole))
		if err == nil {
			err = l.f.Sync()
		}
		if err != nil {
			return fmt.Errorf("ledger %s: cut off torn record: %w", l.path, err)
		}
	}
	set := make(map[Fingerprint]struct{}, whole/8)
	for i := 0; i < whole; i += 8 {
		set[Fingerprint(data[i:i+8])] = struct{}{}
	}
	l.size, l.set = int64(whole), set
	return nil
}

// Has reports whether f was appended to the ledger. A ledger that cannot
// be read knows nothing; Append then fails with the reason, so the run
// that took the message does not commit.
func (l *Ledger) Has(f Fingerprint) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.load() != nil {
		return false
	}
	_, ok := l.set[f]
	return ok
}

// Append records fingerprints and fsyncs them; they are durable when it
// returns. Fingerprints already recorded are not written again.
func (l *Ledger) Append(fps ...Fingerprint) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.load(); err != nil {
		return err
	}
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
	if l.load() != nil {
		return 0
	}
	return len(l.set)
}

// All returns every fingerprint recorded, in no order, for moving a
// task's ledger into another store (`mailtask state import`).
func (l *Ledger) All() ([]Fingerprint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.load(); err != nil {
		return nil, err
	}
	fps := make([]Fingerprint, 0, len(l.set))
	for f := range l.set {
		fps = append(fps, f)
	}
	return fps, nil
}

// Close closes the ledger file.
func (l *Ledger) Close() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("close ledger %s: %w", l.path, err)
	}
	return nil
}

// ForgetInLedger takes fingerprints out of the ledger of task in dir
// (`mailtask state retry`), by writing the ledger afresh in place of the
// old one: after a crash it holds either every record or all but these.
// The caller holds the task's lock, and no Ledger of the task is open.
func ForgetInLedger(dir, task string, fps []Fingerprint) error {
	l, err := OpenLedger(dir, task)
	if err != nil {
		return err
	}
	defer l.Close()
	kept, err := l.All()
	if err != nil {
		return err
	}
	gone := make(map[Fingerprint]bool, len(fps))
	for _, f := range fps {
		gone[f] = true
	}
	data := make([]byte, 0, 8*len(kept))
	for _, f := range kept {
		if !gone[f] {
			data = append(data, f[:]...)
		}
	}
	if len(data) == 8*len(kept) {
		return nil
	}
	if err := WriteFile(l.path, data); err != nil {
		return fmt.Errorf("rewrite ledger %s: %w", l.path, err)
	}
	return nil
}
