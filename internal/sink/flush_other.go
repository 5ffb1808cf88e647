//go:build !linux

package sink

import (
	"errors"
	"os"
)

// Elsewhere Stage fsyncs each file; see flush.go.
func canFlush(*os.File) bool { return false }

func sameFilesystem(a, b *os.Root) bool { return false }

func syncFilesystem(*os.File) error { return errors.ErrUnsupported }
