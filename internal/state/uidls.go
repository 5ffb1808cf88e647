package state

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// UIDLSet is the set of POP3 messages a task has taken, by UIDL, with the
// day each one was first missing from a listing of the server. A UIDL is
// kept as the first 8 bytes of its SHA-256: with n UIDLs known, a new
// message is taken for an old one with probability n/2^64 (5e-15 at
// 100,000; under 1e-5 over a billion messages in a task's life), the same
// bet the Ledger's fingerprints make.
//
// It lives in its own file beside the state (the UIDL log, see UIDLLog), to
// which a save appends only what changed: a poll that finds nothing new
// writes nothing, and a first poll does not rewrite the whole set at every
// commit. The zero value is an empty set.
type UIDLSet struct {
	// missing maps each known UIDL to the day (since the Unix epoch, UTC)
	// of the first listing that lacked it; 0 while the server lists it.
	missing map[uidlHash]uint32
	journal []byte // records changed since the last save
	rewrite bool   // the log must be written afresh (a migrated state)
}

type uidlHash uint64

func hashUIDL(uidl string) uidlHash {
	sum := sha256.Sum256([]byte(uidl))
	return uidlHash(binary.BigEndian.Uint64(sum[:8]))
}

func dayOf(t time.Time) uint32 { return uint32(t.Unix() / 86400) }

// Has reports whether the message with uidl was taken.
func (s *UIDLSet) Has(uidl string) bool {
	_, ok := s.missing[hashUIDL(uidl)]
	return ok
}

// Len returns the number of UIDLs known.
func (s *UIDLSet) Len() int { return len(s.missing) }

// Add records that the message with uidl was taken.
func (s *UIDLSet) Add(uidl string) { s.set(hashUIDL(uidl), 0) }

func (s *UIDLSet) set(h uidlHash, day uint32) {
	if old, ok := s.missing[h]; ok && old == day {
		return
	}
	if s.missing == nil {
		s.missing = map[uidlHash]uint32{}
	}
	s.missing[h] = day
	s.journal = appendRecord(s.journal, h, day)
}

func (s *UIDLSet) forget(h uidlHash) {
	delete(s.missing, h)
	s.journal = binary.BigEndian.AppendUint64(append(s.journal, recForget), uint64(h))
}

// UIDLGrace is how long a UIDL stays known after its message has left the
// server. A server may leave a message out of one listing (a mailbox being
// repaired, Gmail's "recent" mode); forgetting at once would download it
// again when it reappears.
const UIDLGrace = 30 * 24 * time.Hour

// PruneUIDLs updates the POP3 UIDLs after a listing of the server and
// reports which of the listed UIDLs are known. A known UIDL absent from
// listed is stamped with the day it went missing, and forgotten once it
// has been missing longer than grace; one listed again loses its stamp.
// The grace period covers a server that leaves a message out of a few
// listings: forgetting its UIDL at once would ingest the message again
// when it reappears. Stamps are days, so a poll that finds the server as
// it was changes nothing. UIDLs listed that are not yet known are left
// alone; they become known when their message is committed.
func (s *State) PruneUIDLs(listed []string, now time.Time, grace time.Duration) (known []bool) {
	u := &s.UIDLs
	known = make([]bool, len(listed))
	hashes := make([]uidlHash, len(listed))
	found := 0
	for i, uidl := range listed {
		h := hashUIDL(uidl)
		hashes[i] = h
		since, ok := u.missing[h]
		if !ok {
			continue
		}
		known[i] = true
		found++
		if since != 0 {
			u.set(h, 0)
		}
	}
	if found >= len(u.missing) {
		return known // every known UIDL is listed: the usual poll
	}
	on := make(map[uidlHash]bool, found)
	for i, h := range hashes {
		if known[i] {
			on[h] = true
		}
	}
	today := dayOf(now)
	graceDays := uint32(grace / (24 * time.Hour))
	for h, since := range u.missing {
		switch {
		case on[h]:
		case since == 0:
			u.set(h, today)
		case today > since && today-since > graceDays:
			u.forget(h)
		}
	}
	return known
}

// The UIDL log is a header (uidlMagic, then the generation as a uint32)
// followed by records: recPresent or recForget and a UIDL's hash, or
// recMissing, the hash and the day it went missing. Records apply in
// order. The state file names the generation and how many bytes of the
// log are committed; bytes beyond, left by a save that crashed before the
// state file was replaced, are ignored and later overwritten.
//
// A log grown much beyond its live records is written afresh as the next
// generation, into the other of two files (<task>.uidls.0 and .1), so the
// file the saved state names is never touched until a new state file
// names the new one.
const (
	uidlMagic  = "MTU1"
	recPresent = 'p'
	recMissing = 'm'
	recForget  = 'f'
	headerSize = 8
)

// UIDLLog is the state file's reference to the committed UIDL log.
type UIDLLog struct {
	Gen   uint32 `json:"gen"`
	Size  int64  `json:"size"`
	Count int    `json:"count"` // UIDLs known, for `mailtask state show` and a check
}

func uidlPath(dir, task string, gen uint32) string {
	return filepath.Join(dir, task+".uidls."+strconv.Itoa(int(gen%2)))
}

func appendRecord(b []byte, h uidlHash, day uint32) []byte {
	if day == 0 {
		return binary.BigEndian.AppendUint64(append(b, recPresent), uint64(h))
	}
	b = binary.BigEndian.AppendUint64(append(b, recMissing), uint64(h))
	return binary.BigEndian.AppendUint32(b, day)
}

// loadUIDLs reads the committed part of the log ref names.
func loadUIDLs(dir, task string, ref *UIDLLog) (UIDLSet, error) {
	path := uidlPath(dir, task, ref.Gen)
	f, err := openFile(path, os.O_RDONLY, 0)
	if err != nil {
		return UIDLSet{}, fmt.Errorf("read UIDL log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return UIDLSet{}, fmt.Errorf("read UIDL log: %w", err)
	}
	if ref.Size < headerSize || ref.Size > fi.Size() {
		return UIDLSet{}, fmt.Errorf("UIDL log %s is corrupt: it has %d bytes, the state says %d are committed", path, fi.Size(), ref.Size)
	}
	data := make([]byte, ref.Size)
	if _, err := io.ReadFull(f, data); err != nil {
		return UIDLSet{}, fmt.Errorf("UIDL log %s is shorter than the state says (%d bytes): %w", path, ref.Size, err)
	}
	s, err := parseUIDLs(data, ref.Gen)
	if err == nil && s.Len() != ref.Count {
		err = fmt.Errorf("it holds %d UIDLs, the state says %d", s.Len(), ref.Count)
	}
	if err != nil {
		return UIDLSet{}, fmt.Errorf("UIDL log %s is corrupt: %w", path, err)
	}
	return s, nil
}

func parseUIDLs(data []byte, gen uint32) (UIDLSet, error) {
	if len(data) < headerSize || string(data[:4]) != uidlMagic {
		return UIDLSet{}, errors.New("no UIDL log header")
	}
	if g := binary.BigEndian.Uint32(data[4:8]); g != gen {
		return UIDLSet{}, fmt.Errorf("generation %d, the state names %d", g, gen)
	}
	s := UIDLSet{missing: make(map[uidlHash]uint32, (len(data)-headerSize)/9)}
	err := eachRecord(data[headerSize:], func(c UIDLChange) {
		if c.Forget {
			delete(s.missing, uidlHash(c.Hash))
		} else {
			s.missing[uidlHash(c.Hash)] = c.MissingDay
		}
	})
	if err != nil {
		return UIDLSet{}, err
	}
	return s, nil
}

// eachRecord calls fn with each record of data, in order.
func eachRecord(data []byte, fn func(UIDLChange)) error {
	for rest := data; len(rest) > 0; {
		if len(rest) < 9 {
			return errors.New("truncated record")
		}
		c := UIDLChange{Hash: binary.BigEndian.Uint64(rest[1:9])}
		switch rest[0] {
		case recPresent:
			rest = rest[9:]
		case recForget:
			c.Forget = true
			rest = rest[9:]
		case recMissing:
			if len(rest) < 13 {
				return errors.New("truncated record")
			}
			c.MissingDay = binary.BigEndian.Uint32(rest[9:13])
			rest = rest[13:]
		default:
			return fmt.Errorf("unknown record %q", rest[0])
		}
		fn(c)
	}
	return nil
}

// saveUIDLs makes the set's changes durable in the log and returns the
// reference the state file must hold to commit them. committed is the
// generation the state file on disk names (0: none), the one file a
// rewrite must not touch.
func (s *UIDLSet) saveUIDLs(dir, task string, ref *UIDLLog, committed uint32) (*UIDLLog, error) {
	if ref != nil && !s.rewrite && len(s.journal) == 0 {
		return ref, nil
	}
	if ref == nil && s.Len() == 0 && len(s.journal) == 0 {
		return nil, nil
	}
	live := int64(headerSize + 13*s.Len())
	if s.rewrite || ref == nil || ref.Size+int64(len(s.journal)) > 2*live+64<<10 {
		return s.rewriteUIDLs(dir, task, committed)
	}
	path := uidlPath(dir, task, ref.Gen)
	f, err := openFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("append to UIDL log %s: %w", path, err)
	}
	_, err = f.WriteAt(s.journal, ref.Size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("append to UIDL log %s: %w", path, err)
	}
	size := ref.Size + int64(len(s.journal))
	s.journal = nil
	return &UIDLLog{Gen: ref.Gen, Size: size, Count: s.Len()}, nil
}

func (s *UIDLSet) rewriteUIDLs(dir, task string, committed uint32) (*UIDLLog, error) {
	gen := committed + 1
	path := uidlPath(dir, task, gen)
	buf := make([]byte, 0, headerSize+13*s.Len())
	buf = binary.BigEndian.AppendUint32(append(buf, uidlMagic...), gen)
	for h, day := range s.missing {
		buf = appendRecord(buf, h, day)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("write UIDL log: create state directory: %w", err)
	}
	f, err := openFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write UIDL log %s: %w", path, err)
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("write UIDL log %s: %w", path, err)
	}
	s.journal, s.rewrite = nil, false
	return &UIDLLog{Gen: gen, Size: int64(len(buf)), Count: s.Len()}, nil
}

// removeStaleUIDLs deletes the log file the state no longer names, once a
// state naming a rewritten log is durable.
func removeStaleUIDLs(dir, task string, gen uint32) error {
	err := os.Remove(uidlPath(dir, task, gen+1))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// migrateUIDLs takes the UIDLs of a version 1 state file, which held each
// with the last time it was listed, into a set the next save writes out.
func migrateUIDLs(old map[string]time.Time) UIDLSet {
	s := UIDLSet{missing: make(map[uidlHash]uint32, len(old)), rewrite: true}
	for uidl, last := range old {
		// Missing since it was last listed, until a listing shows it: the
		// grace period runs from the same day as before.
		s.missing[hashUIDL(uidl)] = max(dayOf(last), 1)
	}
	return s
}
