package testmail

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtask/internal/mailgen"
)

const (
	imapTestUser     = "alice@example.test"
	imapTestPassword = "s3cret"
)

// fixedDeadlineConn holds one deadline for the whole test: imapclient
// resets deadlines on every command, which would let a stuck test hang.
type fixedDeadlineConn struct{ net.Conn }

func (fixedDeadlineConn) SetDeadline(time.Time) error      { return nil }
func (fixedDeadlineConn) SetReadDeadline(time.Time) error  { return nil }
func (fixedDeadlineConn) SetWriteDeadline(time.Time) error { return nil }

func dialIMAPConn(t *testing.T, s *IMAPServer) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return fixedDeadlineConn{conn}
}

// imapDial connects the way the server is configured: implicit TLS,
// STARTTLS or plaintext, trusting ca.
func imapDial(t *testing.T, s *IMAPServer, opts IMAPOptions, ca *CA) *imapclient.Client {
	t.Helper()
	conn := dialIMAPConn(t, s)
	var c *imapclient.Client
	switch {
	case opts.StartTLS:
		var err error
		c, err = imapclient.NewStartTLS(conn, &imapclient.Options{TLSConfig: ca.ClientTLS()})
		if err != nil {
			t.Fatal(err)
		}
	case opts.TLS != nil:
		tc := tls.Client(conn, ca.ClientTLS())
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		c = imapclient.New(tc, nil)
	default:
		c = imapclient.New(conn, nil)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func startIMAP(t *testing.T, opts IMAPOptions) *IMAPServer {
	t.Helper()
	if opts.Username == "" {
		opts.Username, opts.Password = imapTestUser, imapTestPassword
	}
	s, err := StartIMAP(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// imapLogin starts a plaintext server and returns it with a logged-in client.
func imapLogin(t *testing.T, opts IMAPOptions) (*IMAPServer, *imapclient.Client) {
	t.Helper()
	s := startIMAP(t, opts)
	c := imapDial(t, s, opts, nil)
	if err := c.Login(imapTestUser, imapTestPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	return s, c
}

func fetchAll(t *testing.T, c *imapclient.Client, uids imap.UIDSet) []*imapclient.FetchMessageBuffer {
	t.Helper()
	msgs, err := c.Fetch(uids, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestIMAPServerTransports(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts IMAPOptions
	}{
		{"implicit TLS", IMAPOptions{TLS: ca.ServerTLS}},
		{"STARTTLS", IMAPOptions{TLS: ca.ServerTLS, StartTLS: true}},
		{"plaintext", IMAPOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startIMAP(t, tc.opts)
			raw := NewMessage("round trip", Attachment{Name: "a.pdf", ContentType: "application/pdf", Content: mailgen.PDFDoc("Round trip", nil)})
			uid, err := s.Append("INBOX", raw)
			if err != nil {
				t.Fatal(err)
			}

			c := imapDial(t, s, tc.opts, ca)
			if err := c.Login(imapTestUser, imapTestPassword).Wait(); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			msgs := fetchAll(t, c, imap.UIDSetNum(imap.UID(uid)))
			if len(msgs) != 1 || uint32(msgs[0].UID) != uid {
				t.Fatalf("UID FETCH %d returned %d messages", uid, len(msgs))
			}
			if got := msgs[0].FindBodySection(&imap.FetchItemBodySection{Peek: true}); !bytes.Equal(got, raw) {
				t.Errorf("BODY.PEEK[] returned %d bytes, want the %d appended", len(got), len(raw))
			}
			if s.Logins() != 1 {
				t.Errorf("Logins() = %d, want 1", s.Logins())
			}
		})
	}
}

func TestIMAPServerStartTLSRequiredForLogin(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	s := startIMAP(t, IMAPOptions{TLS: ca.ServerTLS, StartTLS: true})
	c := imapclient.New(dialIMAPConn(t, s), nil)
	defer c.Close()
	if err := c.Login(imapTestUser, imapTestPassword).Wait(); err == nil {
		t.Fatal("login before STARTTLS succeeded")
	}
	if s.Logins() != 0 {
		t.Errorf("Logins() = %d, want 0", s.Logins())
	}
}

func TestIMAPServerWrongPassword(t *testing.T) {
	s := startIMAP(t, IMAPOptions{})
	c := imapDial(t, s, IMAPOptions{}, nil)
	err := c.Login(imapTestUser, "wrong").Wait()
	var imapErr *imap.Error
	if !errors.As(err, &imapErr) || imapErr.Type != imap.StatusResponseTypeNo || imapErr.Code != imap.ResponseCodeAuthenticationFailed {
		t.Fatalf("login with a wrong password: %v, want NO [AUTHENTICATIONFAILED]", err)
	}
	if s.Logins() != 0 {
		t.Errorf("Logins() = %d, want 0", s.Logins())
	}
}

func TestIMAPServerClientAppendAndMessages(t *testing.T) {
	s, c := imapLogin(t, IMAPOptions{UIDValidity: 42})
	raw := NewMessage("via APPEND")
	cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagFlagged}})
	if _, err := cmd.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if data.UIDValidity != 42 || data.UID != 1 {
		t.Errorf("APPENDUID %d %d, want 42 1", data.UIDValidity, data.UID)
	}
	msgs := s.Messages("INBOX")
	if len(msgs) != 1 || msgs[0].UID != 1 || !bytes.Equal(msgs[0].Raw, raw) || !slices.Contains(msgs[0].Flags, imap.FlagFlagged) {
		t.Fatalf("Messages(INBOX) = %+v", msgs)
	}
	if len(s.FetchedUIDs()) != 0 {
		t.Errorf("Messages counted as a download: %v", s.FetchedUIDs())
	}
}

func TestIMAPServerFetchedUIDs(t *testing.T) {
	s, c := imapLogin(t, IMAPOptions{})
	for i := range 3 {
		if _, err := s.Append("INBOX", NewMessage("m"+string(rune('1'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	fetchAll(t, c, imap.UIDSetNum(2))
	// Flags and headers are not downloads.
	if _, err := c.Fetch(imap.UIDSetNum(1, 2, 3), &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, Peek: true}}}).Collect(); err != nil {
		t.Fatal(err)
	}
	// Sequence numbers with "*", and a non-peek fetch that sets \Seen.
	var all imap.SeqSet
	all.AddRange(1, 0)
	if _, err := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect(); err != nil {
		t.Fatal(err)
	}
	if got, want := s.FetchedUIDs(), []uint32{2, 1, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("FetchedUIDs() = %v, want %v", got, want)
	}
	for _, m := range s.Messages("INBOX") {
		if !slices.Contains(m.Flags, imap.FlagSeen) {
			t.Errorf("UID %d not \\Seen after FETCH BODY[]", m.UID)
		}
	}
}

func TestIMAPServerResetUIDValidity(t *testing.T) {
	s, c := imapLogin(t, IMAPOptions{UIDValidity: 7, Mailboxes: []string{"Processed"}})
	var raws [][]byte
	for i := range 3 {
		raw := NewMessage("m" + string(rune('1'+i)))
		raws = append(raws, raw)
		if _, err := s.Append("INBOX", raw); err != nil {
			t.Fatal(err)
		}
	}
	// Remove UID 1 so that renumbering is visible.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	c.Close()

	if err := s.ResetUIDValidity("INBOX", 7); err == nil {
		t.Error("ResetUIDValidity to the current value succeeded")
	}
	if err := s.ResetUIDValidity("INBOX", 8); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetUIDValidity("Nowhere", 9); err == nil {
		t.Error("ResetUIDValidity of a missing mailbox succeeded")
	}

	c = imapDial(t, s, IMAPOptions{}, nil)
	if err := c.Login(imapTestUser, imapTestPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if data.UIDValidity != 8 || data.UIDNext != 3 {
		t.Errorf("after reset: UIDVALIDITY %d UIDNEXT %d, want 8 3", data.UIDValidity, data.UIDNext)
	}
	status, err := c.Status("INBOX", &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if status.UIDValidity != 8 {
		t.Errorf("STATUS UIDVALIDITY %d, want 8", status.UIDValidity)
	}
	msgs := fetchAll(t, c, imap.UIDSetNum(1, 2))
	if len(msgs) != 2 {
		t.Fatalf("fetched %d messages after reset, want 2", len(msgs))
	}
	for i, m := range msgs {
		if m.UID != imap.UID(i+1) || !bytes.Equal(m.FindBodySection(&imap.FetchItemBodySection{Peek: true}), raws[i+1]) {
			t.Errorf("message %d after reset: UID %d or content changed", i, m.UID)
		}
	}
	if !slices.Contains(msgs[1].Flags, imap.FlagSeen) {
		t.Errorf("flags lost in reset: %v", msgs[1].Flags)
	}
	// Other mailboxes keep their UIDVALIDITY.
	other, err := c.Status("Processed", &imap.StatusOptions{UIDValidity: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if other.UIDValidity == 8 {
		t.Errorf("Processed shares INBOX's new UIDVALIDITY")
	}
}

func TestIMAPServerMove(t *testing.T) {
	s, c := imapLogin(t, IMAPOptions{Mailboxes: []string{"Processed"}})
	for _, subject := range []string{"keep", "move"} {
		if _, err := s.Append("INBOX", NewMessage(subject)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ResetUIDValidity("Processed", 99); err != nil {
		t.Fatal(err)
	}
	if !c.Caps().Has(imap.CapUIDPlus) || !c.Caps().Has(imap.CapMove) {
		t.Fatalf("capabilities %v lack UIDPLUS or MOVE", c.Caps())
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := c.Move(imap.UIDSetNum(2), "Processed").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if data.UIDValidity != 99 {
		t.Errorf("COPYUID UIDVALIDITY %d, want Processed's 99", data.UIDValidity)
	}
	if n := c.Mailbox().NumMessages; n != 1 {
		t.Errorf("client sees %d messages in INBOX after MOVE, want 1", n)
	}
	if in, out := s.Messages("INBOX"), s.Messages("Processed"); len(in) != 1 || in[0].UID != 1 || len(out) != 1 {
		t.Errorf("after MOVE: INBOX %d messages, Processed %d", len(in), len(out))
	}
}

// Without UIDPLUS, go-imap's Move falls back to COPY, STORE \Deleted and a
// plain EXPUNGE, which also removes messages flagged \Deleted by someone
// else: the server must let that happen.
func TestIMAPServerNoUIDPlus(t *testing.T) {
	s, c := imapLogin(t, IMAPOptions{NoUIDPlus: true, Mailboxes: []string{"Processed"}})
	if _, err := s.Append("INBOX", NewMessage("deleted elsewhere"), imap.FlagDeleted); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append("INBOX", NewMessage("moved")); err != nil {
		t.Fatal(err)
	}
	if c.Caps().Has(imap.CapUIDPlus) || c.Caps().Has(imap.CapMove) {
		t.Fatalf("capabilities %v include UIDPLUS or MOVE", c.Caps())
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.UIDExpunge(imap.UIDSetNum(1)).Close(); err == nil {
		t.Error("UID EXPUNGE succeeded without UIDPLUS")
	}
	if _, err := c.Move(imap.UIDSetNum(2), "Processed").Wait(); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Messages("INBOX")); n != 0 {
		t.Errorf("INBOX holds %d messages, want 0 after the plain EXPUNGE", n)
	}
	if n := len(s.Messages("Processed")); n != 1 {
		t.Errorf("Processed holds %d messages, want 1", n)
	}
}

func TestIMAPServerClose(t *testing.T) {
	s, err := StartIMAP(IMAPOptions{Username: imapTestUser, Password: imapTestPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err == nil {
		conn.Close()
		t.Fatal("server still accepts connections after Close")
	}
	if _, err := s.inner.dial(); err == nil {
		t.Fatal("internal listener still accepts connections after Close")
	}
}
