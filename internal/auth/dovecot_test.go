package auth_test

import (
	"errors"
	"strings"
	"testing"

	"mailtask/internal/auth"
	"mailtask/internal/mailbox"
	"mailtask/internal/mailbox/imap"
	"mailtask/internal/mailbox/pop3"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// startDovecotOAuth2 starts Dovecot taking tokens over mechanisms (its
// auth_mechanisms beside plain and login), checked by an oauth2 passdb
// against the introspection endpoint of the IdP that idp returns.
func startDovecotOAuth2(t *testing.T, idp func() *testmail.IdP, mechanisms string) *dovecot.Server {
	t.Helper()
	return dovecot.Start(t, dovecot.OAuth2(idp().IntrospectURL(), mechanisms))
}

// openSession signs in to the account's server with cred and lists the
// inbox; it returns how many messages it holds.
func openSession(t *testing.T, f *fixture, cred auth.Credential) (int, error) {
	t.Helper()
	ctx := testCtx(t)
	if f.acct.Protocol == "pop3" {
		s, err := pop3.Open(ctx, f.acct, cred, nil)
		if err != nil {
			return 0, err
		}
		defer s.Logout(ctx)
		found, err := s.New(ctx, mailbox.NoneTaken)
		return len(found.New), err
	}
	s, err := imap.Dial(ctx, f.acct, cred)
	if err != nil {
		return 0, err
	}
	defer s.Logout(ctx)
	if _, err := s.Select(ctx, "INBOX", mailbox.After{Action: "none"}); err != nil {
		return 0, err
	}
	found, err := s.New(ctx, mailbox.NoneTaken)
	return len(found.New), err
}

// TestDovecotTokenSignIn signs in to a real Dovecot over IMAP and POP3
// with tokens from the fake IdP, over XOAUTH2 and, where the server offers
// only that, OAUTHBEARER. A forged token ends in Dovecot's own refusal,
// which it sends only once the failure challenge has been answered the
// way the mechanism requires. (Dovecot slows every login from an address
// for seconds after a refusal, so each instance sees one, last.)
func TestDovecotTokenSignIn(t *testing.T) {
	for _, c := range []struct{ offer, want, forgedOver string }{
		{"xoauth2 oauthbearer", "XOAUTH2", "imap"},
		{"oauthbearer", "OAUTHBEARER", "pop3"},
	} {
		t.Run(c.want, func(t *testing.T) {
			t.Parallel()
			var f *fixture
			d := startDovecotOAuth2(t, func() *testmail.IdP {
				f = newFixture(t, fixtureOptions{user: dovecot.DefaultUser})
				return f.idp
			}, c.offer)
			d.Seed(t, d.User, "INBOX", []byte("Subject: one\r\n\r\nbody\r\n"), []byte("Subject: two\r\n\r\nbody\r\n"))
			use := func(protocol string) {
				addr := d.IMAPSAddr
				if protocol == "pop3" {
					addr = d.POP3SAddr
				}
				f.writeConfig(tlsAccountFile(protocol, addr, d.CACertFile), "redirect_url = \""+f.redirect+"\"")
			}
			for _, protocol := range []string{"imap", "pop3"} {
				use(protocol)
				f.signIn()
				cred, err := auth.New(f.acct, f.options())
				if err != nil {
					t.Fatal(err)
				}
				rec := &mechanism{Credential: cred}
				n, err := openSession(t, f, rec)
				if err != nil {
					t.Fatalf("%s: %v\n%s", protocol, err, d.LogTail())
				}
				if n != 2 || rec.name != c.want {
					t.Errorf("%s: %d messages over %q, want 2 over %s", protocol, n, rec.name, c.want)
				}
			}

			use(c.forgedOver)
			_, err := openSession(t, f, auth.Bearer(d.User, auth.StaticToken("forged-token", d.User)))
			var me *mailbox.Error
			if !errors.As(err, &me) || me.Step != mailbox.StepLogin || mailbox.IsTransient(err) {
				t.Fatalf("forged token: got %v, want a permanent login failure", err)
			}
			for _, want := range []string{"Authentication failed.", "server challenge: status"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("forged token: error %q lacks %q", err, want)
				}
			}
		})
	}
}

func tlsAccountFile(protocol, addr, caFile string) string {
	host, port, _ := strings.Cut(addr, ":")
	return "protocol = \"" + protocol + "\"\nhost = \"" + host + "\"\nport = " + port + "\nca_file = \"" + caFile + "\""
}
