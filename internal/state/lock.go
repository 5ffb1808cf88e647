package state

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gofrs/flock"
)

// TaskLock is the exclusive right to run one task, held across processes:
// the daemon and a manual `mailtask run-task` never work on a task at once.
type TaskLock struct {
	fl *flock.Flock
}

// LockedError reports that another process is running the task.
type LockedError struct {
	Task string
	PID  int // 0 if the holder's pid could not be read
}

func (e *LockedError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("task %q is already running", e.Task)
	}
	return fmt.Sprintf("task %q is already running (pid %d)", e.Task, e.PID)
}

// Lock takes the task's lock in dir without waiting. If another process (or
// another Lock in this one) holds it, the error is a *LockedError.
//
// The lock is flock(2) on <task>.lock, so it dies with its process; the pid
// written into the file is only there to tell the user who holds it.
func Lock(dir, task string) (*TaskLock, error) {
	if err := checkTask(task); err != nil {
		return nil, err
	}
	if err := CheckDir(dir); err != nil {
		return nil, fmt.Errorf("take the task's lock: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("take the task's lock: create state directory: %w", err)
	}
	path := lockPath(dir, task)
	fl := flock.New(path, flock.SetPermissions(0o600), flock.SetFlag(os.O_CREATE|os.O_RDWR|noFollow))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("take the task's lock: %w", err)
	}
	if !ok {
		return nil, &LockedError{Task: task, PID: readPID(path)}
	}
	// Written through a second descriptor: flock(2) locks belong to the
	// open file description, so opening and closing another one leaves the
	// lock alone.
	if err := writePID(path); err != nil {
		fl.Unlock()
		return nil, fmt.Errorf("take the task's lock: record pid: %w", err)
	}
	// A holder that was killed mid-save left its temporary file; only the
	// new holder may safely remove it.
	if err := removeSaveDebris(dir, task); err != nil {
		fl.Unlock()
		return nil, fmt.Errorf("take the task's lock: %w", err)
	}
	return &TaskLock{fl: fl}, nil
}

// Unlock releases the lock. The lock file stays: removing it would let a
// process that opened the old file and one that creates a new one both
// believe they hold the lock.
func (l *TaskLock) Unlock() error {
	if !l.fl.Locked() {
		// Already released; the file may now belong to another holder.
		return nil
	}
	// Clear the pid first so nobody is later blamed for a run that ended.
	// A failure here is harmless: the next holder overwrites it.
	if f, err := openFile(l.fl.Path(), os.O_WRONLY|os.O_TRUNC, 0); err == nil {
		f.Close()
	}
	if err := l.fl.Unlock(); err != nil {
		return fmt.Errorf("release the task's lock: %w", err)
	}
	return nil
}

// writePID replaces the lock file's content with this process's pid.
func writePID(path string) error {
	f, err := openFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func readPID(path string) int {
	data, err := readFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid < 0 {
		return 0
	}
	return pid
}
