package sink

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What OpenPrivate creates, and the folder itself even if it was there
// before, only its owner may read: quarantined mail was 0644 in 0755
// folders.
func TestOpenPrivateCreatesOwnerOnlyFilesAndFolders(t *testing.T) {
	path := filepath.Join(t.TempDir(), "failed", "t")
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := OpenPrivate(path, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	sub, err := d.Folder("deeper/still")
	if err != nil {
		t.Fatal(err)
	}
	// More files than a folder takes before it creates files ahead (spares,
	// O_TMPFILE on Linux), so that such files are among them.
	for i := range 30 {
		for _, dir := range []*Dir{d, sub} {
			if _, err := dir.Put(fmt.Sprintf("m%d.eml", i), strings.NewReader(fmt.Sprint("message ", i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = filepath.WalkDir(path, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if e.IsDir() {
			want = 0o700
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s: mode %v, want %v", p, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
