package sink

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Filesystems whose syncfs writes back and reports like an fsync of each
// file (statfs f_type).
var flushingFilesystems = map[int64]bool{
	unix.EXT4_SUPER_MAGIC:  true, // also ext2 and ext3
	unix.XFS_SUPER_MAGIC:   true,
	unix.BTRFS_SUPER_MAGIC: true,
}

// canFlush reports whether the filesystem holding dir, the destination,
// can make everything durable at once, errors included (before Linux 5.8
// syncfs did not report write-back errors).
func canFlush(dir *os.File) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil || !kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 8) {
		return false
	}
	var st unix.Statfs_t
	return unix.Fstatfs(int(dir.Fd()), &st) == nil && flushingFilesystems[int64(st.Type)]
}

// sameFilesystem reports whether a and b lie on one filesystem: a folder
// may be another filesystem mounted below the destination, which the
// destination's Flush does not reach.
func sameFilesystem(a, b *os.Root) bool {
	fa, err1 := a.Stat(".")
	fb, err2 := b.Stat(".")
	if err1 != nil || err2 != nil {
		return false
	}
	sa, ok1 := fa.Sys().(*syscall.Stat_t)
	sb, ok2 := fb.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev
}

// kernelAtLeast reports whether a kernel release ("6.1.0-18-amd64") is
// major.minor or later.
func kernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	maj, err1 := strconv.Atoi(parts[0])
	digits := strings.IndexFunc(parts[1]+".", func(r rune) bool { return r < '0' || r > '9' })
	mnr, err2 := strconv.Atoi(parts[1][:digits])
	if err1 != nil || err2 != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}

// syncFilesystem is a variable so that the tests can make it fail.
var syncFilesystem = func(f *os.File) error {
	return unix.Syncfs(int(f.Fd()))
}
