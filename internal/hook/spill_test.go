package hook

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// A 200 KB subject and the paths of 5,000 files are more than Linux lets
// a program start with: the hook failed to start ("argument list too
// long") on every run. They now reach it cut, whole in files.
func TestLongValuesReachTheHookThroughFiles(t *testing.T) {
	out, tmp := t.TempDir(), filepath.Join(t.TempDir(), "hook-files")
	subject := strings.Repeat("Rechnung für März ", 12_000) // 216,000 bytes, multi-byte characters
	var paths []string
	for i := range 5000 {
		paths = append(paths, fmt.Sprintf("/srv/drop/invoices/2025/invoice (%d).pdf", i))
	}
	files := strings.Join(paths, "\n")
	sh := script(t, `
printf '%s' "$MAILTASK_SUBJECT" > "`+out+`/subject"
printf '%s' "$MAILTASK_FILES" > "`+out+`/files"
printf '%s' "$MAILTASK_TRUNCATED" > "`+out+`/truncated"
printf '%s' "$MAILTASK_TASK" > "`+out+`/task"
cp "$MAILTASK_SUBJECT_FILE" "`+out+`/subject.whole"
cp "$MAILTASK_FILES_FILE" "`+out+`/files.whole"
stat -c %a "$MAILTASK_FILES_FILE" > "`+out+`/mode"
printf '%s\n%s' "$MAILTASK_SUBJECT_FILE" "$MAILTASK_FILES_FILE" > "`+out+`/names"`)
	c := Command{Argv: []string{sh}, Timeout: 30 * time.Second, TempDir: tmp}
	if err := c.Run(context.Background(), Env{"SUBJECT": subject, "FILES": files, "TASK": "invoices"}); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("task"); got != "invoices" {
		t.Errorf("MAILTASK_TASK = %q", got)
	}
	if got := read("truncated"); got != "FILES SUBJECT" {
		t.Errorf("MAILTASK_TRUNCATED = %q", got)
	}
	cutSubject := read("subject")
	if len(cutSubject) > MaxValue || len(cutSubject) < MaxValue-utf8.UTFMax || !strings.HasPrefix(subject, cutSubject) || !utf8.ValidString(cutSubject) {
		t.Errorf("MAILTASK_SUBJECT: %d bytes, a prefix: %v, valid UTF-8: %v", len(cutSubject), strings.HasPrefix(subject, cutSubject), utf8.ValidString(cutSubject))
	}
	cutFiles := read("files")
	if len(cutFiles) > MaxValue || !strings.HasPrefix(files, cutFiles+"\n") {
		t.Errorf("MAILTASK_FILES is not whole lines of the list: %d bytes ending %q", len(cutFiles), cutFiles[max(0, len(cutFiles)-40):])
	}
	if read("subject.whole") != subject || read("files.whole") != files {
		t.Error("the _FILE variables do not hold the whole values")
	}
	if got := strings.TrimSpace(read("mode")); got != "600" {
		t.Errorf("the value files are mode %s, want 600", got)
	}
	for _, name := range strings.Split(read("names"), "\n") {
		if filepath.Dir(name) != tmp {
			t.Errorf("value file %s is not in the TempDir", name)
		}
		if _, err := os.Stat(name); !os.IsNotExist(err) {
			t.Errorf("value file %s outlived the hook (%v)", name, err)
		}
	}
}

// Short values pass as they are, with no files and no TRUNCATED.
func TestShortValuesPassAsTheyAre(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	sh := script(t, `env | grep -E '^MAILTASK_' | grep -v '^MAILTASK_HOOK=' | sort > "`+out+`"`)
	value := strings.Repeat("x", MaxValue)
	if err := (Command{Argv: []string{sh}, Timeout: 30 * time.Second}).Run(context.Background(), Env{"SUBJECT": value}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "MAILTASK_SUBJECT="+value+"\n" {
		t.Errorf("hook saw %.80q...", got)
	}
}
