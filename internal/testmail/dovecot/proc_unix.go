//go:build unix && !linux

package dovecot

import (
	"os"
	"syscall"
)

// procAttr puts Dovecot in a process group of its own, so that Stop can end
// the master and all its children with one signal. Without a parent-death signal, an
// instance whose test binary dies before its cleanups must be stopped by hand.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// killGroup sends SIGKILL to the process group that p leads.
func killGroup(p *os.Process) error {
	return syscall.Kill(-p.Pid, syscall.SIGKILL)
}
