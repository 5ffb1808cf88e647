//go:build !linux

package sink

import "io"

// Elsewhere every Put creates its file itself; see spare_linux.go.
type spares struct{}

func (d *Dir) writeSpare(io.Reader, fillMode) (string, Stored, bool, error) {
	return "", Stored{}, false, nil
}

func (d *Dir) stopSpares() {}
