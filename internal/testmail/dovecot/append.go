package dovecot

import (
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
)

// Append delivers raw into user's folder the way a mail client or an MTA
// speaking IMAP would, with APPEND over the plain IMAP port, so that
// Dovecot itself notifies the folder's watchers. Seed writes the Maildir
// instead.
func (s *Server) Append(t testing.TB, user, folder string, raw []byte) {
	t.Helper()
	if err := s.append(user, folder, raw); err != nil {
		t.Fatalf("dovecot: APPEND to %s's %s: %v", user, folder, err)
	}
}

func (s *Server) append(user, folder string, raw []byte) error {
	pass, ok := s.users[user]
	if !ok {
		return fmt.Errorf("no user %q on this server (add it to Options.Users)", user)
	}
	c, err := imapclient.DialInsecure(s.IMAPAddr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		return err
	}
	cmd := c.Append(folder, int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	if _, err := cmd.Wait(); err != nil {
		return err
	}
	return c.Logout().Wait()
}
