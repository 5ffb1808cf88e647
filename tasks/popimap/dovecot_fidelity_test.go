package popimap

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// The shapes of real-world mail (uuencode, Exchange's folded names,
// inline forwards and digests, an mbox From line, winmail.dat, S/MIME
// envelopes, names in every charset) go through a real Dovecot and come
// out the same over IMAP and POP3: each message's files are the ones its
// fixture names, and its .eml is the message byte for byte. The automatic
// mail among them (bounces, automatic replies, read receipts) is skipped
// over both, and its look-alikes taken. Microsoft 365's quarantine
// notices are taken too, and each is reported with the count it lists.
func TestDovecotFidelityIMAPMatchesPOP3(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	corpus := testmail.FidelityCorpus()
	raws := make([][]byte, len(corpus))
	for i, fx := range corpus {
		raws[i] = fx.Raw
	}
	d.Seed(t, d.User, "INBOX", raws...)
	task := fidelityTask()
	viaIMAP := dovecotConfig(t, d, task...)
	viaPOP3 := dovecotProtocolConfig(t, d, config.ProtocolPOP3, task...)
	automatic := 0
	var held []int // of each quarantine notice
	for _, fx := range corpus {
		if fx.Automatic != "" {
			automatic++
		}
		if fx.QuarantineNotice {
			held = append(held, fx.QuarantineHeld)
		}
	}
	for _, cfg := range []*config.Config{viaIMAP, viaPOP3} {
		sum := runCfg(t, cfg)
		if sum.Saved != len(corpus)-automatic || sum.Unmatched != automatic || sum.Failed != 0 {
			t.Fatalf("%s: %+v, want %d automatic messages not matching and the rest saved", cfg.Accounts["dovecot"].Protocol, sum, automatic)
		}
		var got []int
		for _, n := range sum.Notices {
			got = append(got, n.Held)
		}
		slices.Sort(got)
		if slices.Sort(held); !slices.Equal(got, held) {
			t.Errorf("%s: quarantine notices %+v, want %d holding %v", cfg.Accounts["dovecot"].Protocol, sum.Notices, len(held), held)
		}
	}
	root := filepath.Dir(viaIMAP.Tasks[0].Destination) // the destination up to {message_id}
	imap, pop := filesIn(t, root), filesIn(t, filepath.Dir(viaPOP3.Tasks[0].Destination))
	if !maps.Equal(imap, pop) {
		t.Errorf("IMAP wrote %d files, POP3 %d: they differ", len(imap), len(pop))
	}
	checkFidelity(t, corpus, root, imap)
}

// checkFidelity checks the files a run of fidelityTask wrote under root
// (the destination up to {message_id}), by path to their sha256: each
// message's folder holds its .eml, the message as sent, and the files its
// fixture names (a name taken twice by different content gets a suffix;
// identical content is one file); automatic mail has no folder.
func checkFidelity(t *testing.T, corpus []testmail.Fixture, root string, files map[string]string) {
	t.Helper()
	folders := map[string][]string{}
	for rel := range files {
		folders[path.Dir(rel)] = append(folders[path.Dir(rel)], path.Base(rel))
	}
	emls := map[string]string{} // sha256 of each .eml -> folder
	for dir, names := range folders {
		for _, n := range names {
			if n == "message.eml" {
				emls[files[path.Join(dir, n)]] = dir
			}
		}
	}
	for _, fx := range corpus {
		sum := sha256.Sum256(fx.Raw)
		dir, ok := emls[hex.EncodeToString(sum[:])]
		if fx.Automatic != "" {
			if ok {
				t.Errorf("%s: %s taken: %q", fx.Name, fx.Automatic, folders[dir])
			}
			continue
		}
		if !ok {
			t.Errorf("%s: no .eml is the message byte for byte", fx.Name)
			continue
		}
		have := map[string]bool{}
		for _, n := range folders[dir] {
			have[n] = true
		}
		for _, want := range fx.Files {
			if !have[want] {
				t.Errorf("%s: %q missing; the folder holds %q", fx.Name, want, folders[dir])
			}
		}
		if n := len(folders[dir]) - 1; n > len(fx.Files) || n == 0 && len(fx.Files) > 0 {
			t.Errorf("%s: %d files, the fixture names %d: %q", fx.Name, n, len(fx.Files), folders[dir])
		}
		if strings.HasPrefix(fx.Name, "mbox-from-line") {
			if b, _ := os.ReadFile(filepath.Join(root, dir, "message.eml")); !strings.HasPrefix(string(b), "From ") {
				t.Errorf("%s: the .eml lost its From line", fx.Name)
			}
		}
	}
}

// fidelityTask is the task of the fidelity tests: a folder per message
// holding its .eml and every attachment, nested ones extracted.
func fidelityTask() []string {
	return []string{`destination = "dest/{message_id}"`, "[task.attachments]", `nested = "extract"`,
		"[task.output]", "eml = true", `message_name = "message"`}
}
