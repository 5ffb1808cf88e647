package imap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"

	"mailtask/internal/auth"
	"mailtask/internal/mailbox"
)

// signIn authenticates with cred: LOGIN for a password (which Exchange,
// Gmail and Dovecot all take); otherwise AUTHENTICATE with the mechanism
// cred picks from the server's AUTH= capabilities, its initial response
// sent with the command when the server has SASL-IR.
func (s *Session) signIn(ctx context.Context, cred auth.Credential) error {
	user := cred.Username()
	fail := func(err error, transient bool) error {
		return s.fail(mailbox.Error{Step: mailbox.StepLogin, User: user, Err: err, Transient: transient})
	}
	if pass, ok := cred.Password(); ok {
		// RFC 3501: a server that advertises LOGINDISABLED refuses LOGIN
		// (here, over a connection without TLS); the password is not sent.
		if s.client.Caps().Has(imap.CapLoginDisabled) {
			return fail(errors.New(`the server advertises LOGINDISABLED: it takes no password over this unencrypted connection, so no password was sent; use tls = "starttls" (port 143) or tls = "implicit" (port 993)`), false)
		}
		if err := s.client.Login(user, pass).Wait(); err != nil {
			return fail(err, false)
		}
		return nil
	}
	mech, err := cred.SASL(ctx, s.client.Caps().AuthMechanisms())
	if err != nil {
		return fail(err, auth.IsTemporary(err))
	}
	// Start only builds the initial response for the mechanisms auth
	// returns, so asking it for the name is harmless.
	name, _, _ := mech.Start()
	if err := s.client.Authenticate(emptyAnswer{mech, s.answer}); err != nil {
		if challenge := auth.FailureChallenge(mech); challenge != "" {
			err = fmt.Errorf("%w (server challenge: %s)", err, challenge)
		}
		if lack := auth.TokenShortfall(mech); lack != "" {
			err = fmt.Errorf("%w; %s", err, lack)
		}
		return fail(fmt.Errorf("AUTHENTICATE %s: %w", name, err), false)
	}
	return nil
}

// emptyAnswer arms conn whenever the mechanism answers a challenge with
// nothing, which XOAUTH2 does to a failure challenge.
type emptyAnswer struct {
	sasl.Client
	conn *saslConn
}

func (e emptyAnswer) Next(challenge []byte) ([]byte, error) {
	resp, err := e.Client.Next(challenge)
	if err == nil && len(resp) == 0 && e.conn != nil {
		e.conn.emptyNext.Store(true)
	}
	return resp, err
}

// saslConn sends an empty SASL continuation response as the empty line
// RFC 3501 asks for. imapclient writes "=" instead (go-imap issue 760),
// which is valid only for an initial response: Dovecot and Gmail refuse it
// as bad base64, and the server's real reply to a refused token is lost.
type saslConn struct {
	net.Conn
	emptyNext atomic.Bool
}

func (c *saslConn) Write(p []byte) (int, error) {
	if c.emptyNext.CompareAndSwap(true, false) && string(p) == "=\r\n" {
		if _, err := c.Conn.Write([]byte("\r\n")); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}
