package popimap

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"mailtask/internal/extract"
	"mailtask/internal/testmail"
)

// The files of an opaque S/MIME signed message are taken from inside the
// envelope, and the sidecar says their signature was not checked.
func TestSignedMessageSidecar(t *testing.T) {
	raw := testmail.OpaqueSigned()
	f := newFixture(t, testmail.IMAPOptions{}, "[task.output]", "metadata = true", `message_name = "signed"`)
	f.append(raw)
	f.mustRun()
	var meta metadata
	b, err := os.ReadFile(filepath.Join(f.dest(), "signed.json"))
	mustT(t, err)
	mustT(t, json.Unmarshal(b, &meta))
	if len(meta.Files) != 1 || meta.Files[0].Path != "invoice-4711.pdf" || meta.Files[0].Signature != extract.SignatureUnchecked {
		t.Errorf("sidecar %s", b)
	}
}
