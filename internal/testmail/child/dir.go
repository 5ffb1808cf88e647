//go:build unix

package child

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// MkdirTemp makes a new directory, named from pattern as os.MkdirTemp
// names one, for a server's own files: its data, sockets and log. It is in
// memory (memoryDir) where that can be had, else in the temporary
// directory. What a test checks mailtask wrote stays in the temporary
// directory (t.TempDir), on the filesystem mailtask runs on, whose kind
// decides how mailtask syncs (internal/sink); a server's files are only
// the fixture. They are many: PostgreSQL's CREATE DATABASE creates some
// 300 files and a cluster's copy a thousand, and on ext4 without a
// journal every file created scans past the inodes deleted in the last
// minutes (make test deletes tens of thousands), so that a CREATE DATABASE
// cost 0.08-0.10 CPU-s and 0.4-0.7 s there against 0.02-0.03 and
// 0.12-0.19 s in memory.
//
// A directory in memory is named for the test binary that made it, and
// the first MkdirTemp of a binary removes those of binaries that died
// before their cleanups (a -timeout panic, a SIGKILL): each holds up to a
// PostgreSQL cluster, 50 MB of memory that nothing else would give back
// before the machine restarts.
func MkdirTemp(pattern string) (string, error) {
	if mem := memoryDir(); mem != "" {
		swept.Do(func() { sweep(mem) })
		if dir, err := os.MkdirTemp(mem, pattern+ownerMark+strconv.Itoa(os.Getpid())+"-"); err == nil {
			return dir, nil
		}
	}
	return os.MkdirTemp("", pattern)
}

// ownerMark comes before the PID of the process that made a directory in
// memory.
const ownerMark = "pid"

var swept sync.Once

// sweep removes the directories in dir that MkdirTemp made for a process
// that is gone. A directory whose PID now belongs to another process
// stays: it cannot be told from one in use.
func sweep(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := owner(e.Name())
		if ok && e.IsDir() && errors.Is(unix.Kill(pid, 0), unix.ESRCH) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// owner is the PID in a name MkdirTemp gave: mailtask-…-pidN-RANDOM.
func owner(name string) (int, bool) {
	if !strings.HasPrefix(name, "mailtask-") {
		return 0, false
	}
	i := strings.LastIndex(name, "-"+ownerMark)
	if i < 0 {
		return 0, false
	}
	pid, rest, ok := strings.Cut(name[i+len(ownerMark)+1:], "-")
	n, err := strconv.Atoi(pid)
	if !ok || rest == "" || err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}
