package demo

import (
	"crypto/tls"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
)

// TestMailboxServesTheCorpusOverTLS signs in as the demo's task does,
// trusting only the demo's CA, and finds the corpus in the INBOX and the
// folder the task moves messages to.
func TestMailboxServesTheCorpusOverTLS(t *testing.T) {
	m, err := StartMailbox()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dial := func() *imapclient.Client {
		c, err := imapclient.DialTLS(m.Addr, &imapclient.Options{TLSConfig: &tls.Config{RootCAs: m.CA.Pool, ServerName: "localhost"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	if err := dial().Login(User, "wrong").Wait(); err == nil {
		t.Error("LOGIN with a wrong password succeeded")
	}
	c := dial()
	if err := c.Login(User, Password).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(Corpus()); m.Messages != n || int(sel.NumMessages) != n {
		t.Errorf("INBOX holds %d messages, Messages says %d; the corpus has %d", sel.NumMessages, m.Messages, n)
	}
	if _, err := c.Select(Processed, nil).Wait(); err != nil {
		t.Errorf("select %s: %v", Processed, err)
	}
}
