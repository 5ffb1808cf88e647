package popimap

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// forwardedMany is a message forwarding n messages as attachments, each
// holding perMessage tiny PDFs.
func forwardedMany(n, perMessage int) []byte {
	var inner strings.Builder
	inner.WriteString("From: a@example.test\r\nSubject: inner\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"in\"\r\n\r\n")
	for i := range perMessage {
		fmt.Fprintf(&inner, "--in\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n", i)
	}
	inner.WriteString("--in--\r\n")
	var b strings.Builder
	b.WriteString("From: b@example.test\r\nSubject: forwards\r\nMessage-ID: <fwd@example.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"out\"\r\n\r\n")
	for range n {
		b.WriteString("--out\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n" + inner.String() + "\r\n")
	}
	b.WriteString("--out--\r\n")
	return []byte(b.String())
}

// nested = "extract" does not bypass the limit on a message's parts: a
// message whose attached messages hold 3,000 files together is kept aside
// with the reason, like a message of 3,000 parts, and writes nothing.
func TestOpenedMessagesCountTowardsThePartLimit(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, "[task.attachments]", `nested = "extract"`)
	f.append(forwardedMany(3, 1000), forwardedMany(1, 10))
	sum := f.mustRun()
	if sum.Saved != 1 || sum.Failed != 1 || sum.Files != 10 {
		t.Errorf("summary %+v, want 1 saved with 10 files, 1 failed", sum.Counts)
	}
	st, err := state.Load(f.cfg.StateDir, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Failed) != 1 || !strings.Contains(st.Failed[0].Reason, "more than 2000 MIME parts, counting those of the attached messages") {
		t.Fatalf("failures %+v", st.Failed)
	}
	if _, err := os.Stat(st.Failed[0].Path); err != nil {
		t.Errorf("the message kept aside: %v", err)
	}
}
