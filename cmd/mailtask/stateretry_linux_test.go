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
	const user = "retry"
	d := dovecot.Start(t, dovecot.Options{Users: map[string]string{user: "pw-" + user}})
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
	d.Seed(t, user, "INBOX", large, unparseable)

	td := newTaskDir(t, d, "imap", user, "pw-"+user, `max_message_size = "1MiB"`)
	code, out, errOut := run(t, "run-task", "--config", td.config, "t")
	if code != exitOK || !strings.Contains(out, "2 new, 0 saved, 0 already taken, 2 failed") {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	kept := failures(t, td)
	if kept["uid:1"].Fingerprint != nil || kept["uid:2"].Fingerprint == nil {
		t.Fatalf("fingerprints recorded: %+v; want one for the message kept whole (uid:2) alone", kept)
	}
	note, err := os.ReadFile(strings.TrimSuffix(kept["uid:2"].Path, ".eml") + ".reason.txt")
	if err != nil || !strings.Contains(string(note), "`mailtask state retry t uid:2`") {
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
	again := failures(t, td)
	if len(again) != 1 || !again["uid:2"].At.After(kept["uid:2"].At) {
		t.Errorf("kept aside after the retry: %+v; want uid:2 alone, kept aside anew", again)
	}
}

// failures returns the messages the task "t" of td keeps aside, by key.
func failures(t *testing.T, td taskDir) map[string]state.Failure {
	t.Helper()
	st, err := state.Load(td.state, "t")
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]state.Failure{}
	for _, f := range st.Failed {
		byKey[f.Key] = f
	}
	return byKey
}
