package child

import (
	"os"
	"syscall"
)

// Attr returns the attributes of a server process run as cred (nil: as
// the test binary runs), sent sig when the test binary dies. Go sets the
// death signal after the credentials, whose change would clear it. The
// death signal follows the thread that started the child; Go retires
// threads only for goroutines that locked them, which the harnesses never
// do.
func Attr(cred *syscall.Credential, sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: sig, Credential: cred}
}

// KillGroup sends SIGKILL to the process group that p leads.
func KillGroup(p *os.Process) error {
	return syscall.Kill(-p.Pid, syscall.SIGKILL)
}
