package imap

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// searching answers UID SEARCH with answer; the folder holds n messages.
func searching(n int, answer string) testmail.IMAPScript {
	return testmail.IMAPScript{Messages: messages(n), Replies: map[string]func(io.Writer, string, string) error{
		"UID SEARCH": func(w io.Writer, tag, _ string) error {
			_, err := io.WriteString(w, strings.ReplaceAll(answer, "{tag}", tag)+"\r\n"+tag+" OK SEARCH completed\r\n")
			return err
		},
	}}
}

// UID 4294967295 is valid; go-imap's AllUIDs loops for ever on it. Above
// UIDNEXT it names no message.
func TestSearchWithTheLargestUID(t *testing.T) {
	for name, answer := range map[string]string{
		"SEARCH":  "* SEARCH 1 2 3 4294967295",
		"ESEARCH": `* ESEARCH (TAG "{tag}") UID ALL 1:3,4294967000:4294967295`,
	} {
		t.Run(name, func(t *testing.T) {
			_, s := selected(t, searching(3, answer))
			var found mailbox.Found
			var err error
			testmail.Within(t, 30*time.Second, func() { found, err = s.New(context.Background(), mailbox.NoneTaken) })
			if err != nil || !slices.Equal(uidsOf(found.New), []uint32{1, 2, 3}) {
				t.Errorf("New: %v, %v; want UIDs 1 to 3", uidsOf(found.New), err)
			}
			if doneContains(found.Done, 4) {
				t.Errorf("UIDs beyond UIDNEXT are recorded as done: %v", found.Done)
			}
		})
	}
}

// go-imap reads a 0 in a SEARCH answer as "*", on which AllUIDs panics.
func TestSearchWithZeroFailsTheListing(t *testing.T) {
	_, s := selected(t, searching(2, "* SEARCH 0 1 2"))
	_, err := s.New(context.Background(), mailbox.NoneTaken)
	if err == nil || !strings.Contains(err.Error(), "name no message") {
		t.Errorf("New: %v, want the answer refused", err)
	}
}

// One bogus high UID must not record every UID below it as done: real
// mail arriving under them would never be taken.
func TestUIDAboveUIDNextIsLeftOut(t *testing.T) {
	_, s := selected(t, searching(3, "* SEARCH 1 2 3 4000000000"))
	found, err := s.New(context.Background(), mailbox.NoneTaken)
	if err != nil || !slices.Equal(uidsOf(found.New), []uint32{1, 2, 3}) {
		t.Fatalf("New: %v, %v; want UIDs 1 to 3", uidsOf(found.New), err)
	}
	for _, uid := range []uint32{4, 5, 3999999999} {
		if doneContains(found.Done, uid) {
			t.Errorf("UID %d, above UIDNEXT, is recorded as done", uid)
		}
	}
}

// A COPYUID naming other messages, or every UID there is, must not have
// them deleted.
func TestCopyUIDNamesOnlyWhatIsRemoved(t *testing.T) {
	for name, copyUID := range map[string]string{
		"others too": "[COPYUID 7 1:3 11:13]",
		"every UID":  "[COPYUID 7 1:4294967295 1:4294967295]",
	} {
		t.Run(name, func(t *testing.T) {
			script := testmail.IMAPScript{
				Capabilities: "IMAP4rev1 UIDPLUS", // no MOVE, as Courier
				Messages:     messages(3),
				Replies: map[string]func(io.Writer, string, string) error{
					"UID COPY": func(w io.Writer, tag, _ string) error {
						_, err := io.WriteString(w, tag+" OK "+copyUID+" COPY completed\r\n")
						return err
					},
				},
			}
			srv, a := hostile(t, script.Script())
			s, err := dialBed(t, a)
			if err != nil {
				t.Fatal(err)
			}
			after := mailbox.After{Action: config.AfterMove, MoveTo: "Processed"}
			ctx := context.Background()
			if _, err := s.Select(ctx, "INBOX", after); err != nil {
				t.Fatal(err)
			}
			testmail.Within(t, 30*time.Second, func() { err = s.Apply(ctx, after, []mailbox.Message{{UID: 2}}) })
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			removed := 0
			for _, line := range srv.Lines() {
				// "tag UID STORE set ..." or "tag UID EXPUNGE set"
				if f := strings.Fields(line); len(f) > 3 && (f[2] == "STORE" || f[2] == "EXPUNGE") {
					removed++
					if f[3] != "2" {
						t.Errorf("the client sent %q; only UID 2 was moved", line)
					}
				}
			}
			if removed != 2 {
				t.Errorf("the client sent %d STORE and EXPUNGE commands, want one of each: %q", removed, srv.Lines())
			}
		})
	}
}

// doneContains reports whether one of done's ranges holds uid.
func doneContains(done []mailbox.UIDRange, uid uint32) bool {
	return slices.ContainsFunc(done, func(r mailbox.UIDRange) bool { return r.First <= uid && uid <= r.Last })
}
