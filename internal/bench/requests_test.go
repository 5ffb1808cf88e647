package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtask/internal/objsink"
)

// versitygw's request log as v1.8.0 writes it: its banner, then a line per
// request, the harness's health check and the probe's among them, and a
// line cut short, run into the next, as the log of a benchmark's run
// once showed: neither is counted.
const requestLog = `No IAM service configured, enabling single account mode
┌────────────────────────────────────────────────────────────────────┐
│                             VersityGW                              │
│              Version git, Build norev, BuildTime none              │
│              (bound on host 127.0.0.1 and port 40005)              │
│                                                                    │
│Admin/S3 service listening on:                                      │
│  http://127.0.0.1:40005                                            │
└────────────────────────────────────────────────────────────────────┘
00:02:21 | vgw | 200 |     119.157µs | 127.0.0.1 | GET | /mailtask-health | - | 
00:02:22 | vgw | 412 |     612.8µs | 127.0.0.1 | PUT | /tixnzlwin3suh5nse/run/_mailtask/create-only-probe | - | 
00:02:22 | vgw | 200 |    8.961035ms | 127.0.0.1 | PUT | /tixnzlwin3suh5nse/run/files/example.test/2025/mb-009-00077.pdf | - | 
00:02:23 | vgw | 200 |     779.938µs | 127.0.0.1 | PUT | /tixnzlwin3suh5nse/run/files/example.test/2025/mb-009-00087.pdf | - | 
00:02:23 | vgw | 412 |     301.2µs | 127.0.0.1 | PUT | /tixnzlwin3suh5nse/run/files/example.test/2025/mb-009-00087.pdf | - | 
00:02:23 | vgw | 200 |     301.2µs | 127.0.0.1 | PUT00:02:23 | vgw | 200 |     253.196µs | 127.0.0.1 | HEAD | /tixnzlwin3suh5nse/run/files/example.test/2025/mb-009-00087.pdf | - | x-id=HeadObject
`

func TestS3RequestsAreCountedByKindFromAnOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "versitygw.log")
	if err := os.WriteFile(path, []byte(requestLog), 0o644); err != nil {
		t.Fatal(err)
	}
	got, end, err := ReadS3Requests(path, 0, objsink.ProbeName)
	if err != nil {
		t.Fatal(err)
	}
	if end != int64(len(requestLog)) {
		t.Errorf("read to %d, want the end, %d", end, len(requestLog))
	}
	if got.Objects() != 2 || got.Probe != 1 {
		t.Errorf("%d objects, %d probe requests; want 2 and 1", got.Objects(), got.Probe)
	}
	if want := "GET 200 0.500, PUT 200 1.000, PUT 412 0.500"; got.PerObject() != want {
		t.Errorf("per object %q, want %q", got.PerObject(), want)
	}

	// What the next run adds is counted from where the last read ended,
	// a line still being written left for the next read.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	more := "00:02:24 | vgw | 200 |     1ms | 127.0.0.1 | PUT | /b/run/files/a.pdf | - | \n00:02:24 | vgw | 200 | 1ms"
	if _, err := f.WriteString(more); err != nil {
		t.Fatal(err)
	}
	got, next, err := ReadS3Requests(path, end, objsink.ProbeName)
	if err != nil {
		t.Fatal(err)
	}
	if got.Objects() != 1 || got.Probe != 0 || len(got.ByKind) != 1 {
		t.Errorf("after the first read: %v, want one PUT 200", got)
	}
	if want := end + int64(strings.Index(more, "\n")+1); next != want {
		t.Errorf("read to %d, want %d, before the unfinished line", next, want)
	}
}
