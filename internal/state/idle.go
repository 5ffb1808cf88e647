package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// IdleStatus is what the daemon's IDLE watcher of a task last reported. It
// is kept in <task>.idle for `mailtask status`, which runs in another
// process; the daemon's pid tells whether it is still current.
type IdleStatus struct {
	PID        int       `json:"pid"`
	State      string    `json:"state"` // as push.State: idling, connecting, lent, polling, failing, stopped
	Since      time.Time `json:"since,omitzero"`
	Reconnects int       `json:"reconnects"`
	Failures   int       `json:"failures"`
	LastError  string    `json:"last_error,omitempty"`
	Updated    time.Time `json:"updated"`
}

// idlePath is not <task>.idle.json, which would be the state file of a
// task named "<task>.idle".
func idlePath(dir, task string) string { return filepath.Join(dir, task+".idle") }

// SaveIdle replaces the IDLE status of task in dir, atomically.
func SaveIdle(dir, task string, s IdleStatus) error {
	if err := checkTask(task); err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("save IDLE status: %w", err)
	}
	if err := WriteFile(idlePath(dir, task), append(data, '\n')); err != nil {
		return fmt.Errorf("save IDLE status: %w", err)
	}
	return nil
}

// LoadIdle returns the IDLE status of task in dir, or nil if no daemon
// has watched it.
func LoadIdle(dir, task string) (*IdleStatus, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	path := idlePath(dir, task)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read IDLE status: %w", err)
	}
	var s IdleStatus
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("IDLE status file %s is corrupt (%v); the daemon rewrites it, or remove it", path, err)
	}
	return &s, nil
}
