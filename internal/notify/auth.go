package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"

	"mailtask/internal/auth"
)

// saslClient picks how cred signs in among the mechanisms the server
// offers (upper case, as in its EHLO reply). A password goes out as PLAIN
// where offered, otherwise LOGIN, which is all Microsoft 365 offers for
// passwords; a token credential picks XOAUTH2 or OAUTHBEARER itself.
func saslClient(ctx context.Context, cred auth.Credential, offered []string) (sasl.Client, error) {
	password, ok := cred.Password()
	if !ok {
		return cred.SASL(ctx, offered)
	}
	switch {
	case slices.Contains(offered, sasl.Plain):
		return sasl.NewPlainClient("", cred.Username(), password), nil
	case slices.Contains(offered, sasl.Login):
		return &loginClient{user: cred.Username(), password: password}, nil
	}
	return nil, fmt.Errorf("the server offers no password sign-in (AUTH %s); it may need OAuth2", strings.Join(offered, " "))
}

// loginClient is SASL LOGIN as Microsoft's SMTP speaks it: no initial
// response, then a "Username:" and a "Password:" challenge. go-sasl's
// client sends the user name as an initial response instead.
type loginClient struct {
	user, password string
	step           int
}

func (c *loginClient) Start() (string, []byte, error) { return sasl.Login, nil, nil }

func (c *loginClient) Next(challenge []byte) ([]byte, error) {
	c.step++
	prompt := string(bytes.ToLower(bytes.TrimSpace(challenge)))
	switch {
	case strings.HasPrefix(prompt, "username"), prompt == "" && c.step == 1:
		return []byte(c.user), nil
	case strings.HasPrefix(prompt, "password"), prompt == "" && c.step == 2:
		return []byte(c.password), nil
	}
	return nil, errors.New("unexpected LOGIN challenge from the server")
}
