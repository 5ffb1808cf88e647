//go:build unix

package config

import (
	"os"
	"syscall"
)

// ownGroup reports whether fi's group is this process's own.
func ownGroup(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Gid) == os.Getegid()
}
