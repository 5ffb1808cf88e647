package auth_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"

	"mailtask/internal/auth"
	"mailtask/internal/mailbox"
	"mailtask/internal/mailbox/imap"
	"mailtask/internal/mailbox/pop3"
	"mailtask/internal/testmail"
)

// mechanism records which SASL mechanism a session signed in with.
type mechanism struct {
	auth.Credential
	name string
}

func (m *mechanism) SASL(ctx context.Context, offered []string) (sasl.Client, error) {
	c, err := m.Credential.SASL(ctx, offered)
	if err == nil {
		m.name, _, _ = c.Start()
	}
	return c, err
}

// tlsAccount is the account lines for a TLS server at addr trusting ca.
func tlsAccount(t *testing.T, protocol, addr string, ca *testmail.CA) string {
	t.Helper()
	caFile, err := ca.WriteCertFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return tlsAccountFile(protocol, addr, caFile)
}

func newCA(t *testing.T) *testmail.CA {
	t.Helper()
	ca, err := testmail.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// imapWithTokens starts an in-process IMAP server over TLS that checks
// tokens with the fixture's IdP for permission, and a fixture for it.
func imapWithTokens(t *testing.T, permission string, noXOAUTH2 bool) (*fixture, *testmail.IMAPServer) {
	t.Helper()
	ca := newCA(t)
	var f *fixture
	srv, err := testmail.StartIMAP(testmail.IMAPOptions{
		TLS: ca.ServerTLS, Username: mailboxUser, Password: "unused-password",
		XOAUTH2:   func(user, token string) bool { return f.idp.CheckToken(permission)(user, token) },
		NoXOAUTH2: noXOAUTH2,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.Append("INBOX", []byte("Subject: one\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	f = newFixture(t, fixtureOptions{account: tlsAccount(t, "imap", srv.Addr, ca)})
	return f, srv
}

func TestIMAPSignInWithTokens(t *testing.T) {
	for _, c := range []struct {
		name      string
		noXOAUTH2 bool
		want      string
	}{{"XOAUTH2", false, "XOAUTH2"}, {"OAUTHBEARER only", true, "OAUTHBEARER"}} {
		t.Run(c.name, func(t *testing.T) {
			f, srv := imapWithTokens(t, "IMAP.AccessAsUser.All", c.noXOAUTH2)
			f.signIn()
			cred, err := auth.New(f.acct, f.options())
			if err != nil {
				t.Fatal(err)
			}
			rec := &mechanism{Credential: cred}
			s, err := imap.Dial(testCtx(t), f.acct, rec)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if _, err := s.Select(testCtx(t), "INBOX", mailbox.After{Action: "none"}); err != nil {
				t.Fatal(err)
			}
			found, err := s.New(testCtx(t), mailbox.NoneTaken)
			msgs := found.New
			if err != nil || len(msgs) != 1 {
				t.Fatalf("New: %v, %v", msgs, err)
			}
			if rec.name != c.want || srv.Logins() != 1 {
				t.Errorf("signed in with %q (%d logins), want %s", rec.name, srv.Logins(), c.want)
			}
		})
	}
}

// TestIMAPTokenRefused: a token without the IMAP permission (as a Graph
// token would be) is refused with the server's words and the failure
// challenge, as a permanent login failure.
func TestIMAPTokenRefused(t *testing.T) {
	f, _ := imapWithTokens(t, "POP.AccessAsUser.All", false)
	f.signIn()
	cred, _ := auth.New(f.acct, f.options())
	_, err := imap.Dial(testCtx(t), f.acct, cred)
	var me *mailbox.Error
	if !errors.As(err, &me) || me.Step != mailbox.StepLogin || me.Transient {
		t.Fatalf("got %v, want a permanent login failure", err)
	}
	for _, want := range []string{"AUTHENTICATE XOAUTH2", "AUTHENTICATE failed.", "server challenge: status 401, scope https://outlook.office.com/IMAP.AccessAsUser.All", mailboxUser} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestIMAPNotSignedIn(t *testing.T) {
	f, srv := imapWithTokens(t, "IMAP.AccessAsUser.All", false)
	cred, _ := auth.New(f.acct, f.options())
	_, err := imap.Dial(testCtx(t), f.acct, cred)
	var ns *auth.NotSignedInError
	if !errors.As(err, &ns) || mailbox.IsTransient(err) || srv.Logins() != 0 {
		t.Fatalf("got %v (transient %v), want a permanent not-signed-in failure", err, mailbox.IsTransient(err))
	}
}

func TestPOP3SignInWithTokens(t *testing.T) {
	ca := newCA(t)
	var f *fixture
	srv, err := testmail.StartPOP3(testmail.POP3Options{
		TLS:     ca.ServerTLS,
		XOAUTH2: func(user, token string) bool { return f.idp.CheckToken("POP.AccessAsUser.All")(user, token) },
	}, []byte("Subject: one\r\n\r\nbody\r\n"), []byte("Subject: two\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f = newFixture(t, fixtureOptions{account: tlsAccount(t, "pop3", srv.Addr(), ca)})
	f.signIn()

	cred, _ := auth.New(f.acct, f.options())
	s, err := pop3.Open(testCtx(t), f.acct, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	found, err := s.New(testCtx(t), mailbox.NoneTaken)
	msgs := found.New
	if err != nil || len(msgs) != 2 {
		t.Fatalf("New: %v, %v", msgs, err)
	}
	if err := s.Logout(testCtx(t)); err != nil {
		t.Fatal(err)
	}

	// A token for IMAP only: refused, with the challenge.
	f.acct.OAuth2.Scopes = []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"}
	f.signIn()
	cred, _ = auth.New(f.acct, f.options())
	_, err = pop3.Open(testCtx(t), f.acct, cred, nil)
	var se *pop3.ServerError
	if !errors.As(err, &se) || se.Command != "AUTH XOAUTH2" || se.Challenge != "status 401, scope https://outlook.office.com/POP.AccessAsUser.All" || mailbox.IsTransient(err) {
		t.Fatalf("got %v, want a permanent AUTH XOAUTH2 refusal with the challenge", err)
	}
}
