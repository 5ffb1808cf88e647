package popimap

import (
	"fmt"
	"path/filepath"
	"testing"

	"mailtask/internal/testmail"
)

// BenchmarkOutputs runs a task over the in-process IMAP server with the
// attachments alone and with every output [task.output] has (.eml, both
// bodies, the metadata sidecar): what the extra files cost. Each run
// starts from fresh state in a fresh destination; nothing is deleted
// between runs, as deleting thousands of files slows the creating of the
// next ones on some filesystems (see internal/bench/doc.go). The figures
// are the filesystem's as much as mailtask's: what the extra files cost is
// mostly fsyncs, dear on a journaled ext4 and cheap without a journal.
// TMPDIR picks the filesystem.
func BenchmarkOutputs(b *testing.B) {
	corpus := testmail.Generate(20250314, 200, 0.05)
	var size int64
	for _, fx := range corpus {
		size += int64(len(fx.Raw))
	}
	for _, bc := range []struct {
		name    string
		outputs []string
	}{
		{"attachments", nil},
		{"all", []string{"[task.output]", "eml = true", "body = true", "metadata = true"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b, testmail.IMAPOptions{}, bc.outputs...)
			for _, fx := range corpus {
				f.append(fx.Raw)
			}
			base := b.TempDir()
			files := 0
			b.ResetTimer()
			for i := range b.N {
				run := filepath.Join(base, fmt.Sprint(i))
				f.cfg.StateDir = filepath.Join(run, "state")
				f.cfg.Tasks[0].Destination = filepath.Join(run, "dest")
				sum := f.mustRun()
				if sum.Saved != len(corpus) {
					b.Fatalf("run %d saved %d of %d messages", i, sum.Saved, len(corpus))
				}
				files = sum.Files
			}
			b.ReportMetric(float64(len(corpus)*b.N)/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(files), "files/run")
			b.SetBytes(size)
		})
	}
}
