package dovecot

import (
	"os"
	"syscall"
)

// procAttr puts Dovecot in a process group of its own, so that Stop can end
// the master and all its children with one signal, and has the kernel send the
// master SIGTERM when the test binary dies without running its cleanups (a
// timeout panic, SIGKILL), so that no instance outlives its test. The death
// signal follows the thread that started the child; Go retires threads only
// for goroutines that locked them, which the harness never does.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// killGroup sends SIGKILL to the process group that p leads.
func killGroup(p *os.Process) error {
	return syscall.Kill(-p.Pid, syscall.SIGKILL)
}
