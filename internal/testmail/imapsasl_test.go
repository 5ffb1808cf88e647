package testmail

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"

	"mailtask/internal/auth"
)

const goodToken = "eyJ0eXAi.good.token"

func tokenServer(t *testing.T, noXOAUTH2 bool) *IMAPServer {
	t.Helper()
	return startIMAP(t, IMAPOptions{
		XOAUTH2:   func(user, token string) bool { return user == imapTestUser && token == goodToken },
		NoXOAUTH2: noXOAUTH2,
	})
}

func TestIMAPServerOffersTokenMechanisms(t *testing.T) {
	for _, c := range []struct {
		noXOAUTH2 bool
		want      []string
	}{{false, []string{"OAUTHBEARER", "PLAIN", "XOAUTH2"}}, {true, []string{"OAUTHBEARER", "PLAIN"}}} {
		s := tokenServer(t, c.noXOAUTH2)
		cl := imapDial(t, s, IMAPOptions{}, nil)
		got := cl.Caps().AuthMechanisms() // from a set: in no particular order
		slices.Sort(got)
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("NoXOAUTH2 %v: AUTH= %v, want %v", c.noXOAUTH2, got, c.want)
		}
	}
	plain := startIMAP(t, IMAPOptions{})
	if got := imapDial(t, plain, IMAPOptions{}, nil).Caps().AuthMechanisms(); strings.Join(got, " ") != "PLAIN" {
		t.Errorf("without XOAUTH2: AUTH= %v", got)
	}
}

func TestIMAPServerTokenSignIn(t *testing.T) {
	for _, mech := range []struct {
		name string
		new  func(user, token string) sasl.Client
	}{{"XOAUTH2", auth.NewXOAUTH2}, {"OAUTHBEARER", auth.NewOAuthBearer}} {
		t.Run(mech.name, func(t *testing.T) {
			s := tokenServer(t, false)
			c := imapDial(t, s, IMAPOptions{}, nil)
			if err := c.Authenticate(mech.new(imapTestUser, goodToken)); err != nil {
				t.Fatalf("good token refused: %v", err)
			}
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatalf("SELECT after token sign-in: %v", err)
			}
			if s.Logins() != 1 {
				t.Errorf("Logins = %d, want 1", s.Logins())
			}

			// A refused token gets a failure challenge; the client's answer
			// lets the server end with NO, and the connection stays usable.
			c = imapDial(t, s, IMAPOptions{}, nil)
			client := mech.new(imapTestUser, "expired.token")
			err := c.Authenticate(client)
			var ie *imap.Error
			if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo {
				t.Fatalf("bad token: %v, want a NO", err)
			}
			if auth.FailureChallenge(client) == "" {
				t.Error("the failure challenge was not kept")
			}
			if err := c.Noop().Wait(); err != nil {
				t.Errorf("connection unusable after a refused token: %v", err)
			}
		})
	}
}
