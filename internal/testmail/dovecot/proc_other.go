//go:build !unix

package dovecot

import (
	"os"
	"syscall"
)

// Dovecot runs on Unix only; these keep the package compiling elsewhere,
// where probe reports Dovecot missing before anything is started.

func procAttr() *syscall.SysProcAttr { return nil }

func killGroup(p *os.Process) error { return p.Kill() }
