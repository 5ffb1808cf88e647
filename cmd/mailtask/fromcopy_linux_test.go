package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// manyParts is a message holding n text parts, which parses alone.
func manyParts(subject string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: a@example.test\r\nSubject: %s\r\nMessage-ID: <%s@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"p\"\r\n\r\n", subject, subject)
	for i := range n {
		fmt.Fprintf(&b, "--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n", i)
	}
	b.WriteString("--p--\r\n")
	return b.String()
}

// twoForwards is a message with two attached messages of 1,100 parts each:
// taken with nested = "extract", which opens them, it holds more parts
// than extract takes and is kept aside whole; with nested = "eml" each is
// saved as it is. The cause of its failure is one an admin can mend.
func twoForwards() []byte {
	var b strings.Builder
	b.WriteString("From: b@example.test\r\nTo: c@example.test\r\nSubject: forwards\r\nMessage-ID: <forwards@example.test>\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\ntwo forwards\r\n")
	for _, name := range []string{"first", "second"} {
		fmt.Fprintf(&b, "--o\r\nContent-Type: message/rfc822; name=%s.eml\r\nContent-Disposition: attachment; filename=%s.eml\r\n\r\n%s", name, name, manyParts(name, 1100))
	}
	b.WriteString("--o--\r\n")
	return []byte(b.String())
}

// A message kept aside whole and deleted from the server by
// after_failure = "delete" is only in its copy: a plain `state retry`
// would succeed and the next run would take nothing, so it is refused,
// naming --from-copy; --from-copy takes it through the task (its files,
// their sidecar) without the server, drops its failure record with the
// commit, and does not take it twice. A message kept with its header
// only cannot be taken from its copy.
func TestStateRetryFromCopyTakesWhatTheServerDeleted(t *testing.T) {
	t.Parallel() // a server and directories of its own
	users := map[string]string{"imap": "pw-imap", "pop3": "pw-pop3"}
	d := dovecot.Start(t, dovecot.Options{Users: users})
	large := testmail.NewMessage("large", testmail.Attachment{Name: "large.bin", Content: bytes.Repeat([]byte("L"), 1_200_000)})
	for protocol, password := range users {
		t.Run(protocol, func(t *testing.T) {
			d.Seed(t, protocol, "INBOX", large, twoForwards())
			task := func(nested string) []string {
				return []string{`max_message_size = "1MiB"`, `after_failure = "delete"`,
					"[task.attachments]", `nested = "` + nested + `"`, "[task.output]", "metadata = true"}
			}
			td := newTaskDir(t, d, protocol, protocol, password, task("extract")...)
			code, out, errOut := run(t, "run-task", "--config", td.config, "t")
			if code != exitOK || !strings.Contains(out, "2 new, 0 saved, 0 already taken, 2 failed") {
				t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
			}
			if total, _ := d.Count(protocol, "INBOX"); total != 1 {
				t.Fatalf("the server holds %d messages after the first run; want the one too large alone, the other deleted by after_failure", total)
			}
			tooLarge, whole := keptAside(t, td)
			if tooLarge.Action != config.AfterNone || whole.Action != config.AfterDelete {
				t.Errorf("failure actions recorded: %q for the message kept with its header, %q for the one kept whole; want none and delete", tooLarge.Action, whole.Action)
			}
			note, err := os.ReadFile(strings.TrimSuffix(whole.Path, ".eml") + ".reason.txt")
			if err != nil || !strings.Contains(string(note), "`mailtask state retry --from-copy t "+whole.Key+"`") {
				t.Errorf("the note beside the copy does not name --from-copy (%v):\n%s", err, note)
			}

			deleted := whole.Key + ": after_failure deleted it from the server"
			if protocol == "pop3" {
				// As an earlier mailtask recorded it: neither the failure
				// action nor the fingerprint.
				st, err := state.Load(td.state, "t")
				if err != nil {
					t.Fatal(err)
				}
				for i := range st.Failed {
					st.Failed[i].Action, st.Failed[i].Fingerprint = "", nil
				}
				if err := st.Save(); err != nil {
					t.Fatal(err)
				}
				deleted = whole.Key + `: it was kept aside by an earlier mailtask, which did not record what after_failure did with it, and after_failure = "delete" may have deleted it`
			}
			code, out, errOut = run(t, "state", "retry", "--config", td.config, "t", whole.Key)
			if code != exitUsage || !strings.Contains(errOut, deleted) || !strings.Contains(errOut, "mailtask state retry --from-copy t") {
				t.Fatalf("plain retry of a message the server deleted: exit %d, want %d saying %q and naming --from-copy\n%s%s", code, exitUsage, deleted, out, errOut)
			}
			code, out, errOut = run(t, "state", "retry", "--from-copy", "--config", td.config, "t", tooLarge.Key)
			if code != exitUsage || !strings.Contains(errOut, "only its header was kept") || !strings.Contains(errOut, "`mailtask state retry t "+tooLarge.Key+"`") {
				t.Fatalf("retry from a copy of the header alone: exit %d, want %d naming the retry from the server\n%s%s", code, exitUsage, out, errOut)
			}
			code, out, errOut = run(t, "state", "retry", "--from-copy", "--config", td.config, "t", whole.Key)
			if code != exitFailed || !strings.Contains(out, whole.Key+" stays kept aside: it still cannot be parsed") {
				t.Fatalf("retry from the copy before the cause is mended: exit %d, want %d\n%s%s", code, exitFailed, out, errOut)
			}
			if files := td.files(t); len(files) != 0 {
				t.Fatalf("a copy that still fails wrote %v", files)
			}

			config, err := os.ReadFile(td.config)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, td.dir, filepath.Base(td.config), strings.Replace(string(config), `nested = "extract"`, `nested = "eml"`, 1))
			// With no KEY, every whole copy is taken, and the copy of
			// the header alone is named with the retry from the server.
			code, out, errOut = run(t, "state", "retry", "--from-copy", "--config", td.config, "t")
			if code != exitFailed || !strings.Contains(out, "took 1 message(s) from the copies kept aside: 3 files") ||
				!strings.Contains(out, tooLarge.Key+" stays kept aside: only its header was kept") || !strings.Contains(out, "`mailtask state retry t "+tooLarge.Key+"`") {
				t.Fatalf("retry from the copies: exit %d, want %d\n%s%s", code, exitFailed, out, errOut)
			}
			files := td.files(t)
			var sidecar string
			for name := range files {
				if strings.HasSuffix(name, ".json") {
					sidecar = name
				}
			}
			if _, ok := files["first.eml"]; !ok || len(files) != 3 || sidecar == "" {
				t.Fatalf("destination after the retry from the copy: %v; want first.eml, second.eml and the sidecar", files)
			}
			meta, err := os.ReadFile(filepath.Join(td.dest, sidecar))
			if err != nil {
				t.Fatal(err)
			}
			var m struct {
				UID  uint32 `json:"uid"`
				UIDL string `json:"uidl"`
			}
			if err := json.Unmarshal(meta, &m); err != nil || fmt.Sprintf("uid:%d", m.UID) != whole.Key && "uidl:"+m.UIDL != whole.Key {
				t.Errorf("the sidecar names UID %d, UIDL %q (%v); want %s, the message's key", m.UID, m.UIDL, err, whole.Key)
			}
			st, err := state.Load(td.state, "t")
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Failed) != 1 || st.Failed[0].Key != tooLarge.Key {
				t.Errorf("kept aside after the retry from the copy: %+v; want %s alone", st.Failed, tooLarge.Key)
			}

			code, out, errOut = run(t, "state", "retry", "--from-copy", "--config", td.config, "t", whole.Key)
			if code != exitUsage || !strings.Contains(errOut, `keeps no message aside under "`+whole.Key+`"`) {
				t.Errorf("second retry from the copy: exit %d, want %d\n%s%s", code, exitUsage, out, errOut)
			}
			code, out, errOut = run(t, "run-task", "--config", td.config, "t")
			if code != exitOK || !strings.Contains(out, "0 new, 0 saved") {
				t.Errorf("run after the retry from the copy: exit %d\n%s%s", code, out, errOut)
			}
			if again := td.files(t); !maps.Equal(again, files) {
				t.Errorf("the destination changed: %v, then %v", files, again)
			}
		})
	}
}
