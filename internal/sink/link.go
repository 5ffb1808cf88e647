package sink

import (
	"errors"
	"syscall"
)

// linkUnsupported reports whether a failed hard link means the filesystem
// cannot link at all (FAT, some network and FUSE mounts), as opposed to the
// name being taken or a real I/O error.
func linkUnsupported(err error) bool {
	return errors.Is(err, errors.ErrUnsupported) ||
		errors.Is(err, syscall.EPERM) ||
		errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.EXDEV) ||
		errors.Is(err, syscall.ENOSYS)
}
