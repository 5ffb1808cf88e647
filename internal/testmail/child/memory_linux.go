package child

import (
	"sync"

	"golang.org/x/sys/unix"
)

// memoryRoom is the free space a memory filesystem needs for servers'
// files to go there: make test's clusters and Dovecots take a few hundred
// MB at once, and a container's /dev/shm is often 64 MB.
const memoryRoom = 1 << 30

// memoryDir is /dev/shm if it is a tmpfs with memoryRoom free, else "".
var memoryDir = sync.OnceValue(func() string {
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) != nil || st.Type != unix.TMPFS_MAGIC || st.Bavail*uint64(st.Bsize) < memoryRoom {
		return ""
	}
	return "/dev/shm"
})
