package servers

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// AppendMbox appends raws to the mbox file at path, creating it, in
// mboxrd form with Unix newlines, as a local delivery agent writes it, and
// gives the file to uid and gid.
func AppendMbox(t testing.TB, path string, uid, gid int, raws ...[]byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range raws {
		f.WriteString("From sender@example.test Sat Mar  1 09:00:00 2025\n")
		for _, line := range strings.SplitAfter(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n") {
			if strings.HasPrefix(strings.TrimLeft(line, ">"), "From ") {
				f.WriteString(">")
			}
			f.WriteString(line)
		}
		if !bytes.HasSuffix(raw, []byte("\n")) {
			f.WriteString("\n")
		}
		f.WriteString("\n")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
}

// CountMbox returns how many messages the mbox file at path holds, 0 when
// it does not exist.
func CountMbox(t testing.TB, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "From ") {
			n++
		}
	}
	return n
}
