package config

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoadManyFiles loads a main file that includes one file per
// mailbox, at two sizes: the time per file should not grow with their
// number (an MSP's thousands of customers, each loaded on every reload).
func BenchmarkLoadManyFiles(b *testing.B) {
	for _, n := range []int{500, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			dir := b.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o700); err != nil {
				b.Fatal(err)
			}
			main := filepath.Join(dir, "main.toml")
			if err := os.WriteFile(main, []byte(`include = ["conf.d/*.toml"]`), 0o600); err != nil {
				b.Fatal(err)
			}
			for i := range n {
				name := fmt.Sprintf("c%05d", i)
				if err := os.WriteFile(filepath.Join(dir, "conf.d", name+".toml"), []byte(customer(name)), 0o600); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Load(main); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/file")
		})
	}
}
