package objsink

import (
	"io"
	"os"
)

// A spool file whose content has been put is emptied and kept open, to
// stage the next content that does not stay in memory. A new file cost
// an inode taken and, once closed, freed; on ext4 without a journal each
// inode taken passes over those freed in the last minutes, so every
// spill of a run made the next ones dearer (creating them was 2 to 6 %
// of the client's CPU in the corpus of make bench).
//
// maxSpares bounds the spool files kept per destination; a batch puts
// putsAtOnce files at once.
const maxSpares = putsAtOnce

// spoolFile returns a spool file positioned at its start: a spare, or a
// new one in the spool folder, unlinked at once (the open file is all
// that is needed, and a crash leaves nothing behind).
func (b *Bucket) spoolFile() (*os.File, error) {
	b.sparesMu.Lock()
	if n := len(b.spares); n > 0 {
		file := b.spares[n-1]
		b.spares = b.spares[:n-1]
		b.sparesMu.Unlock()
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			file.Close()
			return nil, err
		}
		return file, nil
	}
	b.sparesMu.Unlock()
	dir, err := b.spoolFolder()
	if err != nil {
		return nil, err
	}
	file, err := os.CreateTemp(dir, "stage-")
	if err != nil {
		return nil, err
	}
	os.Remove(file.Name())
	return file, nil
}

// spare empties file, whose content is no longer needed, and keeps it
// for the next spill, or closes it.
func (b *Bucket) spare(file *os.File) {
	b.sparesMu.Lock()
	defer b.sparesMu.Unlock()
	if b.closed || len(b.spares) == maxSpares || file.Truncate(0) != nil {
		file.Close()
		return
	}
	b.spares = append(b.spares, file)
}

// closeSpares closes the spool files kept, for good.
func (b *Bucket) closeSpares() {
	b.sparesMu.Lock()
	defer b.sparesMu.Unlock()
	for _, file := range b.spares {
		file.Close()
	}
	b.spares, b.closed = nil, true
}
