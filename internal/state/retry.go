package state

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MarshalText writes a fingerprint as hex, as a Failure records it.
func (f Fingerprint) MarshalText() ([]byte, error) {
	return hex.AppendEncode(nil, f[:]), nil
}

// UnmarshalText reads what MarshalText wrote.
func (f *Fingerprint) UnmarshalText(text []byte) error {
	if hex.DecodedLen(len(text)) != len(f) {
		return fmt.Errorf("fingerprint %q: want %d hex digits", text, 2*len(f))
	}
	_, err := hex.Decode(f[:], text)
	return err
}

// Failures returns the failures recorded under keys, in the order they
// were recorded (every one, with no keys); a key under which none is
// recorded is an *UnknownFailureError.
func (s *State) Failures(keys []string) ([]Failure, error) {
	for _, key := range keys {
		if !slices.ContainsFunc(s.Failed, func(f Failure) bool { return f.Key == key }) {
			return nil, &UnknownFailureError{Task: s.Task, Key: key}
		}
	}
	var picked []Failure
	for _, f := range s.Failed {
		if len(keys) == 0 || slices.Contains(keys, f.Key) {
			picked = append(picked, f)
		}
	}
	return picked, nil
}

// UnknownFailureError is a key given to Retry that names no message
// kept aside.
type UnknownFailureError struct{ Task, Key string }

func (e *UnknownFailureError) Error() string {
	return fmt.Sprintf("task %q keeps no message aside under %q (`mailtask state show %s` lists them under \"failed\")", e.Task, e.Key, e.Task)
}

// Retry makes the messages kept aside under keys (all of them, with no
// keys) new again, so that the next run takes them as it takes a message
// it has never seen: out of the messages done, the failures, the
// undelivered counts and the failure actions due. It returns the
// failures retried. Their fingerprints, where they have one, must go out
// of the ledger before this state is saved: a run finding a message's
// fingerprint there counts it as taken and carries out its after-action
// without writing a file.
func (s *State) Retry(keys []string) ([]Failure, error) {
	retried, err := s.Failures(keys)
	if err != nil {
		return nil, err
	}
	for _, f := range retried {
		s.DropFailure(f.Key)
	}
	for _, f := range retried {
		if uidl, ok := strings.CutPrefix(f.Key, "uidl:"); ok {
			s.UIDLs.forget(hashUIDL(uidl))
			s.PendingFailedUIDLs = slices.DeleteFunc(s.PendingFailedUIDLs, func(p string) bool { return p == uidl })
		} else if uid, err := strconv.ParseUint(strings.TrimPrefix(f.Key, "uid:"), 10, 32); err == nil {
			// A failure action due, or the removal left of a move the
			// server copied, would take the message out of the folder
			// before the next run looks for it.
			s.Done.Remove(uint32(uid))
			s.PendingFailedUIDs.Remove(uint32(uid))
			s.PendingRemovalUIDs.Remove(uint32(uid))
		}
	}
	return retried, nil
}
