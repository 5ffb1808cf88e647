//go:build unix

package child

import "os"

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
func MkdirTemp(pattern string) (string, error) {
	if mem := memoryDir(); mem != "" {
		if dir, err := os.MkdirTemp(mem, pattern); err == nil {
			return dir, nil
		}
	}
	return os.MkdirTemp("", pattern)
}
