//go:build unix && !linux

package child

import (
	"os"
	"syscall"
)

// Attr returns the attributes of a server process run as cred (nil: as
// the test binary runs). There is no parent-death signal here: a server
// whose test binary dies before its cleanups must be stopped by hand.
func Attr(cred *syscall.Credential, _ syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

// KillGroup sends SIGKILL to the process group that p leads.
func KillGroup(p *os.Process) error {
	return syscall.Kill(-p.Pid, syscall.SIGKILL)
}
