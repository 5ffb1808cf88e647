package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/google/renameio/v2"
)

// Version is the state file format this package reads and writes.
const Version = 1

// MaxFailures bounds State.Failed; the oldest entries go first.
const MaxFailures = 1000

// State is everything mailtask remembers about one task.
type State struct {
	Version     int                  `json:"version"`
	Task        string               `json:"task"`
	UIDValidity uint32               `json:"uid_validity,omitempty"` // IMAP
	Done        UIDSet               `json:"done_uids"`              // IMAP: UIDs taken, skipped as non-matching, failed, or known gone
	UIDLs       map[string]time.Time `json:"uidls,omitempty"`        // POP3: UIDL -> last time seen on the server
	Failed      []Failure            `json:"failed,omitempty"`       // quarantined messages, at most MaxFailures
	// Committed messages whose after-action (move, delete...) the server
	// has not yet confirmed: a crash or a dropped connection between the
	// commit and the action leaves them here, and the next run acts on
	// them first. POP3 deletions are confirmed only by QUIT.
	PendingUIDs  UIDSet   `json:"pending_uids,omitzero"`
	PendingUIDLs []string `json:"pending_uidls,omitempty"`
	LastRun      *Run     `json:"last_run,omitempty"`
	LastSuccess  *Run     `json:"last_success,omitempty"`

	dir string
}

// Failure records a message that was quarantined instead of ingested.
type Failure struct {
	Key    string    `json:"key"` // "uid:123" or "uidl:abc"
	Reason string    `json:"reason"`
	Path   string    `json:"path"`
	At     time.Time `json:"at"`
}

// Run summarises one run of a task.
type Run struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Outcome  string        `json:"outcome"` // "ok" | "stopped" | "failed"
	Error    string        `json:"error,omitempty"`
	Hint     string        `json:"hint,omitempty"`
	Seen     int           `json:"seen"`
	Matched  int           `json:"matched"`
	Saved    int           `json:"saved"`
	Failed   int           `json:"failed"`
	Files    int           `json:"files"`
	Bytes    int64         `json:"bytes"`
}

// Load reads the state of task from dir. A missing file is a task that has
// never run and yields a fresh State.
func Load(dir, task string) (*State, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	path := Path(dir, task)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Version: Version, Task: task, UIDLs: map[string]time.Time{}, dir: dir}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state of task %q: %w", task, err)
	}
	s := &State{dir: dir}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("state file %s is corrupt (%v); remove it or run \"mailtask state reset %s\" to start over (messages still on the server will then be fetched again)", path, err, task)
	}
	if s.Version != Version {
		return nil, fmt.Errorf("state file %s has format version %d, this mailtask reads version %d; use the mailtask that wrote it, or run \"mailtask state reset %s\" to start over", path, s.Version, Version, task)
	}
	// The file may have been copied from a task of another name; the name it
	// is loaded under is the one that counts.
	s.Task = task
	if s.UIDLs == nil {
		s.UIDLs = map[string]time.Time{}
	}
	return s, nil
}

// Save writes the state atomically and durably: after a crash the file holds
// either the previous or this state, never a mix, and once Save returns the
// new state survives power loss. It creates the state directory (0700) if
// needed; the file is 0600 because Failure reasons may quote mail content.
func (s *State) Save() error {
	if s.dir == "" {
		return fmt.Errorf("save state of task %q: it was not obtained from Load, so its directory is unknown", s.Task)
	}
	path := Path(s.dir, s.Task)
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("save state of task %q: %w", s.Task, err)
	}
	data = append(data, '\n')
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("save state of task %q: create state directory: %w", s.Task, err)
	}
	// The temp file goes in the state directory itself: renameio would
	// otherwise probe os.TempDir on every call, and a crash would leave
	// debris there.
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(s.dir), renameio.WithStaticPermissions(0o600))
	if err != nil {
		return fmt.Errorf("save state of task %q: %w", s.Task, err)
	}
	defer pf.Cleanup()
	if _, err := pf.Write(data); err != nil {
		return fmt.Errorf("save state of task %q: %w", s.Task, err)
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("save state of task %q: %w", s.Task, err)
	}
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("save state of task %q: %w", s.Task, err)
	}
	return nil
}

// AddFailure quarantines a message. A message failing again replaces its
// earlier entry, and only the newest MaxFailures entries are kept.
func (s *State) AddFailure(f Failure) {
	s.Failed = slices.DeleteFunc(s.Failed, func(old Failure) bool { return old.Key == f.Key })
	s.Failed = append(s.Failed, f)
	if over := len(s.Failed) - MaxFailures; over > 0 {
		s.Failed = slices.Delete(s.Failed, 0, over)
	}
}

// PruneUIDLs updates the POP3 ledger after a listing: known UIDLs in present
// are marked seen at now, and known UIDLs absent from the server for longer
// than grace are forgotten. The grace period covers a server that leaves a
// message out of one listing: forgetting its UIDL at once would ingest the
// message again when it reappears. UIDLs in
// present that are not yet known are left alone; they become known when
// their message is committed.
func (s *State) PruneUIDLs(present map[string]bool, now time.Time, grace time.Duration) {
	for uidl, last := range s.UIDLs {
		switch {
		case present[uidl]:
			s.UIDLs[uidl] = now
		case now.Sub(last) > grace:
			delete(s.UIDLs, uidl)
		}
	}
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
