//go:build unix

package hook

import (
	"os/exec"
	"syscall"
)

// killGroup starts the hook in a process group of its own and makes
// cancellation kill the whole group, and every process that left it
// (setsid, a double fork) where they can be found: those descending from
// the hook, and those carrying its marker, the value of the MAILTASK_HOOK
// variable every hook is started with.
func killGroup(cmd *exec.Cmd, marker string) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		pid := cmd.Process.Pid
		killEscaped(pid, marker) // first, while the hook's children are still its own
		err := syscall.Kill(-pid, syscall.SIGKILL)
		killEscaped(pid, marker) // and what they forked meanwhile
		return err
	}
}
