//go:build unix

package child

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// RunAs returns the credentials to run a server as name when the tests
// run as root, which PostgreSQL and PgBouncer refuse to run as; nil (the
// tests' own user) otherwise. why says, for the Unavailable error of a
// machine without that user, what needs it.
func RunAs(name, why string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, Unavailable(fmt.Sprintf("%s, and there is no %s user to run it as: %v", why, name, err))
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("%s user: %w", name, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
