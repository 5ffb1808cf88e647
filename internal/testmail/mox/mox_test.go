//go:build unix

package mox

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestMain(m *testing.M) { Main(m) }

// What a test loads is what it reads back, byte for byte and with its
// flags (mox adds $NotJunk of its own to a message stored \Seen), in the account it was loaded into alone; a wrong password is
// refused.
func TestAccountsKeepTheirOwnMail(t *testing.T) {
	s := Shared(t)
	alice, bob := s.AddAccount(t), s.AddAccount(t)
	raw := func(i int) []byte {
		return fmt.Appendf(nil, "From: a@example.com\r\nTo: b@example.com\r\nSubject: m%d\r\nMessage-ID: <m%d@example.com>\r\n\r\nbody %d\r\n", i, i, i)
	}
	s.Create(t, alice, "Processed")
	s.Append(t, alice, "INBOX", nil, raw(1), raw(2))
	s.Append(t, alice, "Processed", []imap.Flag{imap.FlagSeen}, raw(3))

	inbox := s.Messages(t, alice, "INBOX")
	if len(inbox) != 2 || !bytes.Equal(inbox[0].Raw, raw(1)) || !bytes.Equal(inbox[1].Raw, raw(2)) || inbox[0].UID >= inbox[1].UID {
		t.Errorf("alice's INBOX: %+v", inbox)
	}
	processed := s.Messages(t, alice, "Processed")
	if len(processed) != 1 || !bytes.Equal(processed[0].Raw, raw(3)) || !slices.Contains(processed[0].Flags, imap.FlagSeen) {
		t.Errorf("alice's Processed: %+v", processed)
	}
	if n := len(s.Messages(t, bob, "INBOX")); n != 0 {
		t.Errorf("bob's INBOX holds %d messages", n)
	}
	bob.Password = "wrong-" + bob.Password
	c := s.dial(t)
	if err := c.Login(bob.Address, bob.Password).Wait(); err == nil {
		t.Error("a wrong password was accepted")
	}
}
