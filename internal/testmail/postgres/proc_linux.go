package postgres

import (
	"os"
	"syscall"
)

// procAttr runs a binary as cred (nil: as we are), in a process group of
// its own so that a stuck postmaster and its backends end with one signal,
// and has the kernel send the postmaster SIGQUIT (immediate shutdown) when
// the test binary dies without running its cleanups, so that no cluster
// outlives its tests. Go sets the death signal after the credentials,
// which would otherwise clear it.
func procAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT, Credential: cred}
}

// killGroup sends SIGKILL to the process group that p leads.
func killGroup(p *os.Process) error {
	return syscall.Kill(-p.Pid, syscall.SIGKILL)
}
