package popimap

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtask/internal/clock"
	"mailtask/internal/extract"
	"mailtask/internal/testmail"
)

// damagedBase64 is a message whose attachment scan.pdf has a character
// base64 does not have.
const damagedBase64 = "From: billing@acme.example\r\nSubject: damaged\r\nMIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
	"--b\r\nContent-Type: application/pdf; name=scan.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBE*Ri0xLjQK\r\n--b--\r\n"

// A file written with a defect is visible: a warning naming the task,
// the message and the file, the defect in the metadata sidecar, and a
// count by kind in the summary (which /metrics adds up).
func TestDefectiveFileIsVisible(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, "[task.output]", "metadata = true", `message_name = "{subject}"`)
	f.append([]byte(damagedBase64), mail{subject: "intact", files: []testmail.Attachment{pdfFile("invoice.pdf")}}.raw())
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Defects) != 1 || sum.Defects[extract.DefectBase64] != 1 {
		t.Errorf("summary defects %v, want one %s", sum.Defects, extract.DefectBase64)
	}
	warnings := 0
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "defect") {
			warnings++
			for _, want := range []string{"task=t", "msg=uid:", "path=scan.pdf", "defect=" + extract.DefectBase64, "not base64"} {
				if !strings.Contains(line, want) {
					t.Errorf("warning %q does not hold %q", line, want)
				}
			}
		}
	}
	if warnings != 1 {
		t.Errorf("%d warnings of a defect, want 1:\n%s", warnings, logs.String())
	}
	for name, want := range map[string]int{"damaged.json": 1, "intact.json": 0} {
		var meta metadata
		b, err := os.ReadFile(filepath.Join(f.dest(), name))
		mustT(t, err)
		mustT(t, json.Unmarshal(b, &meta))
		if len(meta.Files) != 1 || len(meta.Files[0].Defects) != want {
			t.Errorf("%s lists %+v, want one file with %d defects", name, meta.Files, want)
		}
		if want > 0 && (meta.Files[0].Defects[0].Kind != extract.DefectBase64 || !bytes.Contains(b, []byte(`"defects"`))) {
			t.Errorf("%s: %s", name, b)
		}
	}
}

// run-task and the daemon run through Retry, whose summary is what the
// daemon counts in mailtask_file_defects_total: it keeps the defects of
// every attempt.
func TestUnattendedCountsDefects(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{})
	f.append([]byte(damagedBase64))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := Unattended(clock.Real)(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0]})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Defects) != 1 || sum.Defects[extract.DefectBase64] != 1 {
		t.Errorf("summary defects %v, want one %s", sum.Defects, extract.DefectBase64)
	}
}
