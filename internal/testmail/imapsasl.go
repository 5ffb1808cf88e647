package testmail

import (
	"encoding/json"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"
)

// errAuthenticateFailed is Exchange Online's reply to a refused token.
var errAuthenticateFailed = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthenticationFailed, Text: "AUTHENTICATE failed."}

// AuthenticateMechanisms lists PLAIN, and the token mechanisms when
// IMAPOptions.XOAUTH2 is set.
func (sess *imapSession) AuthenticateMechanisms() []string {
	o := sess.srv.opts
	switch {
	case o.XOAUTH2 == nil:
		return []string{"PLAIN"}
	case o.NoXOAUTH2:
		return []string{"PLAIN", sasl.OAuthBearer}
	}
	return []string{"PLAIN", "XOAUTH2", sasl.OAuthBearer}
}

// Authenticate returns the server side of mech.
func (sess *imapSession) Authenticate(mech string) (sasl.Server, error) {
	offered := false
	for _, m := range sess.AuthenticateMechanisms() {
		offered = offered || m == mech
	}
	if !offered {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
	}
	switch mech {
	case "XOAUTH2":
		return &imapXOAUTH2{login: sess.tokenLogin}, nil
	case sasl.OAuthBearer:
		return sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
			if sess.tokenLogin(o.Username, o.Token) != nil {
				return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer", Scope: "IMAP.AccessAsUser.All"}
			}
			return nil
		}), nil
	}
	// PLAIN, as imapserver does it when a session brings no SASL of its own.
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if identity != "" && identity != username {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthorizationFailed, Text: "SASL identity not supported"}
		}
		return sess.Login(username, password)
	}), nil
}

// tokenLogin signs in the server's one user when the token check accepts
// user and token.
func (sess *imapSession) tokenLogin(user, token string) error {
	if !strings.EqualFold(user, sess.srv.opts.Username) || !sess.srv.opts.XOAUTH2(user, token) {
		return errAuthenticateFailed
	}
	if err := sess.fault("AUTHENTICATE"); err != nil {
		return err
	}
	sess.srv.recordLogin()
	sess.UserSession = imapmemserver.NewUserSession(sess.srv.user)
	return nil
}

// imapXOAUTH2 is the server side of XOAUTH2: one response holding
// user and token; a refusal is a JSON failure challenge, whose (empty)
// answer ends the exchange with the error.
type imapXOAUTH2 struct {
	login  func(user, token string) error
	failed bool
}

func (x *imapXOAUTH2) Next(resp []byte) ([]byte, bool, error) {
	switch {
	case x.failed:
		return nil, true, errAuthenticateFailed
	case resp == nil:
		return nil, false, nil // no initial response: "+ " asks for it
	}
	user, token, ok := parseXOAUTH2(string(resp))
	if ok {
		switch err := x.login(user, token); {
		case err == nil:
			return nil, true, nil
		case err != errAuthenticateFailed:
			return nil, true, err // a fault: the reply as it is, no challenge
		}
	}
	x.failed = true
	challenge, _ := json.Marshal(map[string]string{
		"status": "401", "schemes": "bearer", "scope": "https://outlook.office.com/IMAP.AccessAsUser.All",
	})
	return challenge, false, nil
}
