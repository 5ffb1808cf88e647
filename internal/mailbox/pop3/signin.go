package pop3

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mailtask/internal/auth"
)

// signIn authenticates with cred: USER/PASS for a password, which every
// server takes; otherwise AUTH with the mechanism cred picks from the SASL
// line of CAPA (none listed: XOAUTH2, which Exchange takes).
func signIn(ctx context.Context, c *Client, cred auth.Credential) error {
	if pass, ok := cred.Password(); ok {
		if err := c.checkPlaintext(ctx); err != nil {
			return err
		}
		return c.loginDelay(ctx, c.Login(ctx, cred.Username(), pass))
	}
	caps, err := c.Capabilities(ctx)
	if err != nil {
		return err
	}
	mech, err := cred.SASL(ctx, caps["SASL"])
	if err != nil {
		return credentialError{err}
	}
	err = c.Authenticate(ctx, mech)
	// The mechanism saw the failure challenge, also one it answered (the
	// client keeps only those a mechanism cannot answer), and describes
	// it the way IMAP sessions do.
	var se *ServerError
	if errors.As(err, &se) {
		if challenge := auth.FailureChallenge(mech); challenge != "" {
			se.Challenge = challenge
			err = fmt.Errorf("pop3 %s: %w", c.addr, se)
		}
		if lack := auth.TokenShortfall(mech); lack != "" {
			err = fmt.Errorf("%w; %s", err, lack)
		}
	}
	return err
}

// credentialError marks a failure to produce the credential (no sign-in
// yet, a refused refresh, no token mechanism on the server), as opposed to
// one of the connection: only a temporary identity-platform failure is
// worth retrying.
type credentialError struct{ error }

func (e credentialError) Unwrap() error { return e.error }

func (e credentialError) transient() bool { return auth.IsTemporary(e.error) }

// checkPlaintext refuses, before anything secret is sent, a password over
// a connection without TLS to a server whose CAPA (RFC 2449) lists STLS
// but not USER: Dovecot, for one, then takes no plain-text password. A
// server that answers CAPA with -ERR, or lists USER, is tried.
func (c *Client) checkPlaintext(ctx context.Context) error {
	if c.tls {
		return nil
	}
	caps, err := c.Capabilities(ctx)
	if err != nil {
		return err
	}
	_, user := caps["USER"]
	_, stls := caps["STLS"]
	if stls && !user {
		return fmt.Errorf("pop3 %s: %w", c.addr, ErrNoPlaintext)
	}
	return nil
}

// LoginDelayError is a login refused with RFC 2449's [LOGIN-DELAY] code:
// the server allows one login per mailbox in a given time (Cyrus'
// popminpoll), which its CAPA announces as LOGIN-DELAY seconds.
type LoginDelayError struct {
	Err   error
	Delay time.Duration // from CAPA; defaultLoginDelay if it did not say
}

func (e *LoginDelayError) Error() string {
	return fmt.Sprintf("%v (the server allows one login every %s)", e.Err, e.Delay)
}

func (e *LoginDelayError) Unwrap() error { return e.Err }

// defaultLoginDelay is the wait after a LOGIN-DELAY refusal from a server
// whose CAPA names no delay: Cyrus' popminpoll counts minutes.
const defaultLoginDelay = time.Minute

// loginDelay turns a login refused with [LOGIN-DELAY] into a
// *LoginDelayError, asking CAPA (still allowed before login) for the
// delay; it returns any other err as it is.
func (c *Client) loginDelay(ctx context.Context, err error) error {
	var se *ServerError
	if !errors.As(err, &se) || !strings.HasPrefix(strings.ToUpper(se.Text), "[LOGIN-DELAY]") {
		return err
	}
	delay := defaultLoginDelay
	if caps, cerr := c.Capabilities(ctx); cerr == nil && len(caps["LOGIN-DELAY"]) > 0 {
		if n, perr := strconv.Atoi(caps["LOGIN-DELAY"][0]); perr == nil && n > 0 {
			delay = time.Duration(n) * time.Second
		}
	}
	return &LoginDelayError{Err: err, Delay: delay}
}
