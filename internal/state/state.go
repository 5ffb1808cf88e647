package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"mailtask/internal/outcome"
)

// Version is the state file format this package writes. Version 1, which
// held POP3 UIDLs in the state file itself, is still read.
const Version = 2

// MaxFailures bounds State.Failed; the oldest entries go first.
const MaxFailures = 1000

// State is everything mailtask remembers about one task.
type State struct {
	Version     int       `json:"version"`
	Task        string    `json:"task"`
	UIDValidity uint32    `json:"uid_validity,omitempty"` // IMAP
	Done        UIDSet    `json:"done_uids"`              // IMAP: UIDs taken, skipped as non-matching, failed, or known gone
	UIDLs       UIDLSet   `json:"-"`                      // POP3: UIDLs taken, kept in the UIDL log
	UIDLLog     *UIDLLog  `json:"uidl_log,omitempty"`     // POP3: the committed part of the UIDL log
	Failed      []Failure `json:"failed,omitempty"`       // quarantined messages, at most MaxFailures
	// Undelivered counts, by message key, the runs in which the server
	// did not deliver a message it listed: it left it out, refused it, or
	// the connection failed while it was being sent. After a few such
	// runs the message is recorded as failed (tasks/popimap).
	Undelivered map[string]int `json:"undelivered,omitempty"`
	// Settling are IMAP UIDs the rules' search left out, not done until
	// a later search still leaves them out (settling.go): those of its
	// ranges that Done does not hold.
	Settling Settling `json:"settling_uids,omitempty"`
	// Committed messages whose after-action (move, delete...) the server
	// has not yet confirmed: a crash or a dropped connection between the
	// commit and the action leaves them here, and the next run acts on
	// them first. POP3 deletions are confirmed only by QUIT.
	PendingUIDs  UIDSet   `json:"pending_uids,omitzero"`
	PendingUIDLs []string `json:"pending_uidls,omitempty"`
	// The same for quarantined messages and the failure action.
	PendingFailedUIDs  UIDSet   `json:"pending_failed_uids,omitzero"`
	PendingFailedUIDLs []string `json:"pending_failed_uidls,omitempty"`
	// Messages of a move (after or after_failure) the server copied to
	// the move folder and then refused to remove from this one: only
	// their removal (\Deleted and UID EXPUNGE) is due, so that the next
	// run does not copy them twice.
	PendingRemovalUIDs UIDSet `json:"pending_removal_uids,omitzero"`
	// ActionRefused is the server's last refusal of a due action, kept
	// until the server confirms every action due, so that `status` can
	// say why they are still due.
	ActionRefused string `json:"action_refused,omitempty"`
	LastRun       *Run   `json:"last_run,omitempty"`
	LastSuccess   *Run   `json:"last_success,omitempty"`
	// LastNotice is the last run that met Microsoft 365 quarantine
	// notices, kept until it is older than NoticeKept.
	LastNotice *LastNotice `json:"last_notice,omitempty"`

	dir string
	// committedGen is the UIDL log generation the state file on disk
	// names; a rewrite of the log must go to the other file.
	committedGen uint32
}

// Failure records a message that was quarantined instead of ingested.
type Failure struct {
	Key    string    `json:"key"` // "uid:123" or "uidl:abc"
	Reason string    `json:"reason"`
	Path   string    `json:"path"`
	At     time.Time `json:"at"`
	// Fingerprint is the message's in the ledger, where a message kept
	// aside whole is recorded with its batch (nil for one kept without
	// its whole raw form, which the ledger does not hold).
	Fingerprint *Fingerprint `json:"fingerprint,omitempty"`
	// Action is the failure action (after_failure) that became due for
	// it: "none" where none did, such as a deletion of a message whose
	// only whole copy the server holds; "" in records of a mailtask
	// before it was recorded, for which it is unknown.
	Action string `json:"action,omitempty"`
}

// Whole reports whether the copy kept aside is the whole message, which
// a run can take again as it would the server's: not only its header
// (too large to download), nor nothing of it (never delivered).
func (f Failure) Whole() bool {
	return f.Fingerprint != nil || strings.HasSuffix(f.Path, ".eml") && !strings.HasSuffix(f.Path, ".header.eml")
}

// Run summarises one run of a task.
type Run struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Outcome  string        `json:"outcome"` // outcome.OK, outcome.Stopped or outcome.Failed
	Error    string        `json:"error,omitempty"`
	Hint     string        `json:"hint,omitempty"`
	outcome.Counts
	// QuarantineNotices counts the Microsoft 365 quarantine notices the
	// run met: notices, not the messages they say are held, which a
	// notice in another language or HTML does not tell, and which the
	// next day's notice lists again.
	QuarantineNotices int `json:"quarantine_notices,omitempty"`
}

// Load reads the state of task from dir. A missing file is a task that has
// never run and yields a fresh State.
func Load(dir, task string) (*State, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	path := Path(dir, task)
	data, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Version: Version, Task: task, dir: dir}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	s := &State{dir: dir}
	corrupt := func(err error) error {
		return fmt.Errorf("state file %s is corrupt (%v); remove it or run \"mailtask state reset %s\" to start over (messages still on the server will then be fetched again)", path, err, task)
	}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, corrupt(err)
	}
	switch s.Version {
	case 1:
		var v1 struct {
			UIDLs map[string]time.Time `json:"uidls"`
		}
		if err := json.Unmarshal(data, &v1); err != nil {
			return nil, corrupt(err)
		}
		s.UIDLs = migrateUIDLs(v1.UIDLs)
		s.UIDLLog = nil
		s.Version = Version
	case Version:
		if s.UIDLLog != nil {
			if s.UIDLs, err = loadUIDLs(dir, task, s.UIDLLog); err != nil {
				return nil, fmt.Errorf("%w; run \"mailtask state reset %s\" to start over (messages still on the server will then be fetched again)", err, task)
			}
			s.committedGen = s.UIDLLog.Gen
		}
	default:
		return nil, fmt.Errorf("state file %s has format version %d, this mailtask reads versions 1 and %d; use the mailtask that wrote it, or run \"mailtask state reset %s\" to start over", path, s.Version, Version, task)
	}
	// The file may have been copied from a task of another name; the name it
	// is loaded under is the one that counts.
	s.Task = task
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
	// The UIDLs go first: the state file must not name log bytes that
	// are not durable yet.
	ref, err := s.UIDLs.saveUIDLs(s.dir, s.Task, s.UIDLLog, s.committedGen)
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	s.UIDLLog = ref
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("save state %s: %w", path, err)
	}
	if err := WriteFile(path, append(data, '\n')); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if ref != nil && ref.Gen != s.committedGen {
		s.committedGen = ref.Gen
		if err := removeStaleUIDLs(s.dir, s.Task, ref.Gen); err != nil {
			return fmt.Errorf("save state: remove the old UIDL log: %w", err)
		}
	}
	return nil
}

// Due counts the messages whose after-action (the removal of moved
// messages included) and whose failure action the server has not
// confirmed.
func (s *State) Due() outcome.Due {
	return outcome.Due{
		After:   int(s.PendingUIDs.Len()+s.PendingRemovalUIDs.Len()) + len(s.PendingUIDLs),
		Failure: int(s.PendingFailedUIDs.Len()) + len(s.PendingFailedUIDLs),
	}
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

// DropFailure forgets the failure recorded under key: its message was
// taken from the copy kept aside.
func (s *State) DropFailure(key string) {
	s.Failed = slices.DeleteFunc(s.Failed, func(f Failure) bool { return f.Key == key })
	delete(s.Undelivered, key)
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
