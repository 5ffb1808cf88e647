package popimap

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailtask/internal/sink"
	"mailtask/internal/testmail"
)

func TestOutputsAndTemplates(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{},
		`destination = "dest/{from_domain}/{yyyy}/{mm}"`,
		`time_zone = "UTC"`,
		"[task.output]",
		`eml = true`,
		`body = true`,
		`metadata = true`,
		`file_name = "{yyyy}{mm}{dd}-{n}-{name}.{ext}"`,
		`message_name = "{subject}"`)
	raw := mail{subject: "Invoice 4711 / March", html: "<p>Hi</p>", files: []testmail.Attachment{pdfFile("invoice.pdf"), {Name: "README", Content: []byte("notes")}}}.raw()
	uid := f.appendUIDs(raw)[0]
	sum := f.mustRun()
	root := filepath.Join(f.dir, "dest")
	got := filesIn(t, root)
	want := []string{
		"acme.example/2025/03/20250314-1-invoice.pdf",
		"acme.example/2025/03/20250314-2-README",
		"acme.example/2025/03/invoice-4711-march.eml",
		"acme.example/2025/03/invoice-4711-march.html",
		"acme.example/2025/03/invoice-4711-march.json",
		"acme.example/2025/03/invoice-4711-march.txt",
	}
	if !slices.Equal(sortedKeys(got), want) {
		t.Fatalf("files %v\nwant %v", sortedKeys(got), want)
	}
	if sum.Files != 6 {
		t.Errorf("summary %+v", sum)
	}
	dir := filepath.Join(root, "acme.example", "2025", "03")
	if b, _ := os.ReadFile(filepath.Join(dir, "invoice-4711-march.eml")); string(b) != string(raw) {
		t.Error("the .eml is not the message byte for byte")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "invoice-4711-march.txt")); !strings.HasPrefix(string(b), "Please find the invoice attached.") {
		t.Errorf("text body %q", b)
	}
	var meta metadata
	b, err := os.ReadFile(filepath.Join(dir, "invoice-4711-march.json"))
	mustT(t, err)
	mustT(t, json.Unmarshal(b, &meta))
	if meta.UID != uid || meta.From != "billing@acme.example" || meta.Subject != "Invoice 4711 / March" || meta.Task != "t" || len(meta.Files) != 5 {
		t.Errorf("metadata %+v", meta)
	}
	for _, fo := range meta.Files {
		if got[fo.Path] != fo.SHA256 {
			t.Errorf("metadata lists %s with sha256 %s; on disk %s", fo.Path, fo.SHA256, got[fo.Path])
		}
	}

	// A re-run after a crash (state and ledger lost) finds every file,
	// the sidecar included, already there.
	mustT(t, os.Remove(filepath.Join(f.cfg.StateDir, "t.json")))
	mustT(t, os.Remove(filepath.Join(f.cfg.StateDir, "t.ledger")))
	if again := f.mustRun(); again.Files != 0 || again.Saved != 1 {
		t.Errorf("re-run %+v", again)
	}
	if n := len(filesIn(t, root)); n != len(want) {
		t.Errorf("%d files after the re-run, want %d", n, len(want))
	}
}

// TestTemplatesCannotEscape feeds senders, subjects and names built to
// climb out of the destination through every variable.
func TestTemplatesCannotEscape(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{},
		`destination = "dest/{from_domain}/{from}/{subject}"`,
		"[task.output]",
		`eml = true`,
		`file_name = "{subject}-{name}.{ext}"`,
		`message_name = "{from}_{subject}"`)
	outside := t.TempDir()
	f.append(
		mail{from: `"x" <../../../etc@..>`, subject: "../../../../" + outside, files: []testmail.Attachment{pdfFile("../../x.pdf")}}.raw(),
		mail{from: "a@b/../../c", subject: "/etc/passwd\x00", files: []testmail.Attachment{pdfFile("CON.pdf")}}.raw(),
		mail{from: "..@..", subject: "..", files: []testmail.Attachment{pdfFile("..")}}.raw(),
		mail{from: "évil@\u202eexample", subject: "\\..\\..\\windows", files: []testmail.Attachment{pdfFile("C:\\boot.ini")}}.raw(),
	)
	sum := f.mustRun()
	if sum.Saved != 4 {
		t.Fatalf("summary %+v", sum)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("written outside: %v", entries)
	}
	root := filepath.Join(f.dir, "dest")
	entries, _ := os.ReadDir(f.dir)
	for _, e := range entries {
		if !slices.Contains([]string{"dest", "state", "mailtask.toml", filepath.Base(f.caFile)}, e.Name()) {
			t.Errorf("unexpected entry %q beside the destination", e.Name())
		}
	}
	for rel := range filesIn(t, root) {
		segs := strings.Split(filepath.ToSlash(rel), "/")
		if len(segs) != 4 {
			t.Errorf("%q: %d levels, want the template's 4", rel, len(segs))
		}
		for _, s := range segs {
			if s == "" || s == "." || s == ".." || strings.HasPrefix(s, ".") || strings.ContainsAny(s, "\\\x00\u202e") {
				t.Errorf("unsafe segment %q in %q", s, rel)
			}
		}
	}
}

func TestOnCollision(t *testing.T) {
	first := mail{subject: "one", files: []testmail.Attachment{{Name: "report.pdf", ContentType: "application/pdf", Content: pdf("first")}}}.raw()
	second := mail{subject: "two", files: []testmail.Attachment{{Name: "report.pdf", ContentType: "application/pdf", Content: pdf("second")}}}.raw()
	for _, tc := range []struct {
		policy  string
		files   []string
		content string // of report.pdf at the end
		fails   bool
	}{
		{"suffix", []string{"report (1).pdf", "report.pdf"}, "first", false},
		{"overwrite", []string{"report.pdf"}, "second", false},
		{"skip", []string{"report.pdf"}, "first", false},
		{"fail", []string{"report.pdf"}, "first", true},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			f := newFixture(t, testmail.IMAPOptions{}, "[task.output]", `on_collision = "`+tc.policy+`"`)
			f.append(first, second)
			sum, err := f.run()
			if tc.fails != (err != nil) || (tc.fails && !errors.Is(err, sink.ErrCollision)) {
				t.Fatalf("run error %v", err)
			}
			if got := sortedKeys(f.files()); !slices.Equal(got, tc.files) {
				t.Errorf("files %v, want %v", got, tc.files)
			}
			if b, _ := os.ReadFile(filepath.Join(f.dest(), "report.pdf")); string(b) != string(pdf(tc.content)) {
				t.Errorf("report.pdf holds %q", b)
			}
			if tc.fails {
				// Nothing of the failed batch is committed, so the summary
				// saved none, though one file was written: both messages
				// stay new, and the next run meets the same collision.
				if sum.Saved != 0 || sum.Files != 1 {
					t.Errorf("summary of the failed run: %+v, want 0 saved and 1 file", sum.Counts)
				}
				if sum, err := f.run(); sum.Seen != 2 || !errors.Is(err, sink.ErrCollision) {
					t.Errorf("after the failure: %+v, %v", sum, err)
				}
			}
		})
	}
}

func TestDedupe(t *testing.T) {
	same := pdfFile("statement.pdf")
	f := newFixture(t, testmail.IMAPOptions{}, `destination = "dest/{yyyy}-{mm}"`, "[task.output]", `dedupe = "sha256"`, `metadata = true`)
	mustT(t, os.MkdirAll(filepath.Join(f.dir, "dest", "archive"), 0o755))
	mustT(t, os.WriteFile(filepath.Join(f.dir, "dest", "archive", "old.pdf"), same.Content, 0o644))
	f.append(
		mail{subject: "march", files: []testmail.Attachment{same, pdfFile("new.pdf")}}.raw(),
		mail{subject: "april", date: "Tue, 01 Apr 2025 10:00:00 +0000", files: []testmail.Attachment{pdfFile("new.pdf")}}.raw(),
	)
	sum := f.mustRun()
	var data []string
	var april string
	for _, p := range sortedKeys(filesIn(t, filepath.Join(f.dir, "dest"))) {
		switch {
		case strings.HasPrefix(p, "2025-04/") && strings.HasSuffix(p, ".json"):
			april = p
		case !strings.HasSuffix(p, ".json"):
			data = append(data, p)
		}
	}
	// statement.pdf was in archive/ already, and April's new.pdf is
	// March's.
	if want := []string{"2025-03/new.pdf", "archive/old.pdf"}; !slices.Equal(data, want) {
		t.Errorf("files %v, want %v", data, want)
	}
	var meta metadata
	b, err := os.ReadFile(filepath.Join(f.dir, "dest", april))
	mustT(t, err)
	mustT(t, json.Unmarshal(b, &meta))
	if len(meta.Files) != 1 || meta.Files[0].DuplicateOf != "2025-03/new.pdf" {
		t.Errorf("April's metadata lists %+v, want new.pdf as a duplicate of 2025-03/new.pdf", meta.Files)
	}
	if sum.Saved != 2 || sum.Files != 3 {
		t.Errorf("summary %+v", sum)
	}
}
