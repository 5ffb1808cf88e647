//go:build unix

package hook

import (
	"os/exec"
	"syscall"
)

// killGroup starts the hook in a process group of its own and makes
// cancellation kill the whole group.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
