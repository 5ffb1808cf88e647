package sink

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzPutStaysInside writes content under any folder and file name into a
// destination holding symlinks that point outside it: whatever Folder and
// Put accept or refuse, nothing appears outside the destination, no
// temporary file stays visible, and what Put reports as stored is there,
// inside, with that content.
func FuzzPutStaysInside(f *testing.F) {
	for _, seed := range []struct{ folder, name string }{
		{"", "invoice.pdf"},
		{"2025/03", "scan.jpg"},
		{"", "../outside.txt"},
		{"..", "x"},
		{"out", "x"},
		{"out/deeper", "x"},
		{"", "secret"},
		{"a/../../b", "x"},
		{"", "/etc/passwd"},
		{"", ".mailtask-tmp-x"},
		{"", "a\x00b"},
		{"C:", `..\x`},
		{"ok", "."},
	} {
		f.Add(seed.folder, seed.name, []byte("content"))
	}
	f.Fuzz(func(t *testing.T, folder, name string, content []byte) {
		base := t.TempDir()
		dest, outside := filepath.Join(base, "dest"), filepath.Join(base, "outside")
		for _, dir := range []string{dest, outside} {
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// A folder and a file name that lead outside, as a hostile
		// downstream could plant them.
		if err := os.Symlink(outside, filepath.Join(dest, "out")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dest, "secret")); err != nil {
			t.Fatal(err)
		}
		d, err := Open(dest, "t")
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()

		sub, err := d.Folder(folder)
		if err == nil {
			st, perr := sub.Put(name, bytes.NewReader(content))
			if perr == nil {
				path := filepath.Join(sub.Path(), st.Name)
				real, err := filepath.EvalSymlinks(path)
				if err != nil {
					t.Fatalf("Put(%q, %q) stored %q, which does not resolve: %v", folder, name, path, err)
				}
				if !strings.HasPrefix(real, dest+string(filepath.Separator)) {
					t.Fatalf("Put(%q, %q) stored %q, which is %q, outside %s", folder, name, path, real, dest)
				}
				if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, content) {
					t.Errorf("Put(%q, %q) stored %q with other content (%v)", folder, name, path, err)
				}
			}
		}

		if entries, err := os.ReadDir(outside); err != nil || len(entries) != 0 {
			t.Fatalf("Folder(%q).Put(%q) wrote outside the destination: %v (%v)", folder, name, entries, err)
		}
		if entries, err := os.ReadDir(base); err != nil || len(entries) != 2 {
			t.Fatalf("Folder(%q).Put(%q) wrote beside the destination: %v (%v)", folder, name, entries, err)
		}
		err = filepath.WalkDir(dest, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(e.Name(), tempPrefix) {
				t.Errorf("temporary file %s left visible", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
