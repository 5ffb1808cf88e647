package main

import (
	"os"
	"strings"
	"testing"

	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// A bounce of the company's own invoice is not taken: a dry run says so
// and why, the run leaves it on the server though after = "delete", and
// nothing is lost: a state reset with skip_automatic = [] takes it.
func TestRunTaskSkipsABounce(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	var bounce []byte
	for _, fx := range testmail.FidelityCorpus() {
		if fx.Name == "gmail-delivery-failure" {
			bounce = fx.Raw
		}
	}
	d.Seed(t, d.User, "INBOX", bounce, testmail.PDFMessage("incoming.pdf"))
	td := newTaskDir(t, d, "imap", d.User, d.Password, `after = "delete"`, "[task.attachments]", `nested = "extract"`)

	code, out, errOut := run(t, "run-task", "--dry-run", "--config", td.config, "t")
	if code != exitOK || !strings.Contains(out, "would skip uid:1: a delivery report (bounce, delay or receipt): Content-Type: multipart/report; report-type=delivery-status\n") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, "run-task", "--config", td.config, "t")
	if code != exitOK || !strings.Contains(out, "1 saved") || !strings.Contains(out, "1 not matching the rules") {
		t.Fatalf("run: exit %d\n%s%s", code, out, errOut)
	}
	if files := td.files(t); len(files) != 1 || files["incoming.pdf"] == "" {
		t.Fatalf("files %v, want incoming.pdf alone", files)
	}

	config, err := os.ReadFile(td.config)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, td.dir, "mailtask.toml", strings.Replace(string(config), "[task.attachments]", "[task.match]\nskip_automatic = []\n[task.attachments]", 1))
	if code, out, errOut := run(t, "state", "reset", "--config", td.config, "t"); code != exitOK {
		t.Fatalf("state reset: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, "run-task", "--config", td.config, "t"); code != exitOK || !strings.Contains(out, "1 saved") {
		t.Fatalf("run taking automatic mail: exit %d\n%s%s", code, out, errOut)
	}
	if files := td.files(t); files["invoice-4711.pdf"] == "" {
		t.Errorf("files %v, want the bounce's invoice-4711.pdf beside incoming.pdf", files)
	}
}
