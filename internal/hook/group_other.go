//go:build !unix

package hook

import "os/exec"

// killGroup leaves cancellation to exec: it kills the hook's process.
func killGroup(*exec.Cmd, string) {}
