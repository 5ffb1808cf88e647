package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// A message kept aside is done with: the runs after pass it by. Once its
// cause is fixed, `state retry` makes it new again. A message kept aside
// whole is in the ledger too, where a run would find it and count it as
// taken, with no file written: it must leave the ledger with its failure.
func TestStateRetryTakesAgainWhatWasKeptAside(t *testing.T) {
	t.Parallel() // servers, child processes and directories of its own; it mostly waits on them
	users := map[string]string{"imap": "pw-imap", "pop3": "pw-pop3"}
	d := dovecot.Start(t, dovecot.Options{Users: users})
	large := testmail.NewMessage("large", testmail.Attachment{Name: "large.bin", Content: bytes.Repeat([]byte("L"), 1_200_000)})
	// Multiparts nested deeper than extract takes: unparseable whatever
	// the settings, so that a retry keeps it aside again.
	var deep strings.Builder
	deep.WriteString("From: a@example.test\r\nSubject: deep\r\nMIME-Version: 1.0\r\n")
	for i := range 120 {
		fmt.Fprintf(&deep, "Content-Type: multipart/mixed; boundary=\"b%d\"\r\n\r\n--b%d\r\n", i, i)
	}
	deep.WriteString("Content-Type: text/plain\r\n\r\ndeep\r\n")
	unparseable := []byte(deep.String())

	for protocol, password := range users {
		t.Run(protocol, func(t *testing.T) {
			d.Seed(t, protocol, "INBOX", large, unparseable)
			td := newTaskDir(t, d, protocol, protocol, password, `max_message_size = "1MiB"`)
			code, out, errOut := run(t, "run-task", "--dry-run", "--config", td.config, "t")
			if code != exitOK || strings.Count(out, "would keep aside ") != 2 || !strings.Contains(out, ": it is larger than max_message_size") || !strings.Contains(out, ": it could not be parsed") {
				t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut = run(t, "run-task", "--config", td.config, "t")
			if code != exitOK || !strings.Contains(out, "2 new, 0 saved, 0 already taken, 2 failed") {
				t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
			}
			tooLarge, whole := keptAside(t, td)
			if tooLarge.Fingerprint != nil || whole.Fingerprint == nil {
				t.Fatalf("fingerprints recorded: %+v and %+v; want one for the message kept whole alone", tooLarge, whole)
			}
			note, err := os.ReadFile(strings.TrimSuffix(whole.Path, ".eml") + ".reason.txt")
			if err != nil || !strings.Contains(string(note), "`mailtask state retry t "+whole.Key+"`") {
				t.Errorf("the note beside the copy does not say how to take it again (%v):\n%s", err, note)
			}

			config, err := os.ReadFile(td.config)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, td.dir, filepath.Base(td.config), strings.Replace(string(config), `"1MiB"`, `"4MiB"`, 1))
			code, out, errOut = run(t, "state", "retry", "--config", td.config, "t", "uid:9")
			if code != exitUsage || !strings.Contains(errOut, `keeps no message aside under "uid:9"`) {
				t.Fatalf("retry of a key not kept aside: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut = run(t, "state", "retry", "--config", td.config, "t")
			if code != exitOK || !strings.Contains(out, "the next run takes again 2 message(s)") {
				t.Fatalf("retry: exit %d\n%s%s", code, out, errOut)
			}
			code, out, errOut = run(t, "run-task", "--config", td.config, "t")
			if code != exitOK || !strings.Contains(out, "2 new, 1 saved, 0 already taken, 1 failed") {
				t.Fatalf("run after the retry: exit %d\n%s%s", code, out, errOut)
			}
			if _, ok := td.files(t)["large.bin"]; !ok {
				t.Errorf("large.bin not in the destination: %v", td.files(t))
			}
			st, err := state.Load(td.state, "t")
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Failed) != 1 || st.Failed[0].Key != whole.Key || !st.Failed[0].At.After(whole.At) {
				t.Errorf("kept aside after the retry: %+v; want %s alone, kept aside anew", st.Failed, whole.Key)
			}
		})
	}
}

// keptAside returns the two messages task "t" of td kept aside: the one
// too large to download, and the one kept whole.
func keptAside(t *testing.T, td taskDir) (tooLarge, whole state.Failure) {
	t.Helper()
	st, err := state.Load(td.state, "t")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range st.Failed {
		if strings.Contains(f.Reason, "larger than max_message_size") {
			tooLarge = f
		} else {
			whole = f
		}
	}
	if tooLarge.Key == "" || whole.Key == "" {
		t.Fatalf("kept aside: %+v; want a message too large and one kept whole", st.Failed)
	}
	return tooLarge, whole
}
