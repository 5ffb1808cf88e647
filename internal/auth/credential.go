package auth

import (
	"context"

	"github.com/emersion/go-sasl"

	"mailtask/internal/config"
)

// Credential is what a mailbox session signs in with. Sessions ask
// Password first: a password goes out with the protocol's own LOGIN or
// USER/PASS, which every server takes. Otherwise they ask SASL for a
// client, fresh for each attempt since a token may have been renewed.
type Credential interface {
	// Username is the mailbox's sign-in name, for XOAUTH2's user= and for
	// messages.
	Username() string
	// Password returns the password, or false for token credentials.
	Password() (string, bool)
	// SASL returns a client for one of offered, the mechanisms the server
	// lists (upper case; empty when it did not say).
	SASL(ctx context.Context, offered []string) (sasl.Client, error)
}

// New returns the credential an account's configuration describes: its
// password, resolved now, or its OAuth2 token source. For an OAuth2
// account it also warns, on every run, when the client secret or
// certificate is about to expire, or the certificate's file is unusable.
func New(a *config.Account, opts Options) (Credential, error) {
	if a.Auth != config.AuthOAuth2 {
		pw, err := a.ResolvePassword()
		if err != nil {
			return nil, err
		}
		return Password(a.Username, pw.Reveal()), nil
	}
	src, err := NewSource(a, opts)
	if err != nil {
		return nil, err
	}
	if w := CredentialExpiryWarning(a, src.clock.Now()); w != "" {
		src.log.Warn(w, "account", a.Name)
	}
	return Bearer(a.Username, src), nil
}

// Password returns a credential that signs in with user and pass.
func Password(user, pass string) Credential { return passwordCredential{user, secret(pass)} }

type passwordCredential struct {
	user string
	pass secret
}

func (p passwordCredential) Username() string         { return p.user }
func (p passwordCredential) Password() (string, bool) { return string(p.pass), true }

func (p passwordCredential) SASL(context.Context, []string) (sasl.Client, error) {
	return sasl.NewPlainClient("", p.user, string(p.pass)), nil
}

// Bearer returns a credential that signs in as user with tokens from src,
// over XOAUTH2 or OAUTHBEARER, whichever the server offers.
func Bearer(user string, src TokenSource) Credential { return bearerCredential{user, src} }

type bearerCredential struct {
	user string
	src  TokenSource
}

func (b bearerCredential) Username() string         { return b.user }
func (b bearerCredential) Password() (string, bool) { return "", false }

func (b bearerCredential) SASL(ctx context.Context, offered []string) (sasl.Client, error) {
	mech, err := pickMechanism(offered)
	if err != nil {
		return nil, err
	}
	tok, err := b.src.Token(ctx)
	if err != nil {
		return nil, err
	}
	var c sasl.Client
	if mech == XOAUTH2 {
		c = NewXOAUTH2(b.user, tok.Bearer())
	} else {
		c = NewOAuthBearer(b.user, tok.Bearer())
	}
	if tok.AppOnly && len(tok.Roles) == 0 && isJWT(tok.Bearer()) {
		c = shortOf{Client: c, note: NoRolesNote}
	}
	return c, nil
}
