//go:build !linux

package sink

import (
	"errors"
	"os"
)

// Elsewhere Stage fsyncs each file; see flush.go.
func canFlush(root, top *os.Root) bool { return false }

func syncFilesystem(*os.File) error { return errors.ErrUnsupported }
