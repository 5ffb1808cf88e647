package sink

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitSpare takes the spare d's goroutine holds ready, failing the test if
// none comes (O_TMPFILE unsupported where the test runs, say).
func waitSpare(t *testing.T, d *Dir) *os.File {
	t.Helper()
	d.spares.mu.Lock()
	ready := d.spares.ready
	d.spares.mu.Unlock()
	if ready == nil {
		t.Fatalf("no spares after %d Puts", sparesAfter)
	}
	select {
	case f := <-ready:
		if f == nil {
			t.Fatal("the spare goroutine gave up")
		}
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no spare within 10s")
	}
	return nil
}

func TestSpareBecomesTheFile(t *testing.T) {
	d, path := openTemp(t)
	for i := range sparesAfter {
		put(t, d, fmt.Sprintf("f%d.pdf", i), fmt.Sprint(i))
	}
	tmp, st, err := d.fillSpare(waitSpare(t, d), strings.NewReader("spare content"), fillMode{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tmp, tempPrefix) || st.Size != 13 {
		t.Errorf("fillSpare = %q, %+v", tmp, st)
	}
	assertFile(t, filepath.Join(path, tmp), "spare content")
}

// TestSparesLeaveNothing puts enough files for spares to be used, in the
// destination and a folder below, and checks every file and that Close
// leaves no temporary file.
func TestSparesLeaveNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "drop")
	d, err := Open(path, "t")
	if err != nil {
		t.Fatal(err)
	}
	sub, err := d.Folder("2025/03")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range 30 {
		for _, dir := range []*Dir{d, sub} {
			content := fmt.Sprintf("%s file %d", dir.rel, i)
			st := put(t, dir, fmt.Sprintf("f%d.txt", i), content)
			want[st.Rel()] = content
		}
	}
	waitSpare(t, d).Close() // one is held ready: Close must drop the next
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{path, filepath.Join(path, "2025", "03")} {
		for _, name := range listing(t, dir) {
			if strings.HasPrefix(name, tempPrefix) {
				t.Errorf("%s left in %s", name, dir)
			}
		}
	}
	for rel, content := range want {
		assertFile(t, filepath.Join(path, filepath.FromSlash(rel)), content)
	}
	if n := len(listing(t, path)); n != 31 { // 30 files and the folder 2025
		t.Errorf("%d entries in the destination, want 31", n)
	}
}
