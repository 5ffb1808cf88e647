package auth

import (
	"context"
	"time"
)

// StaticToken is a TokenSource that always yields one token, for tests of
// code that signs in with a token someone else obtained.
func StaticToken(token, user string) TokenSource { return staticToken{token, user} }

type staticToken struct{ token, user string }

func (s staticToken) Token(context.Context) (AccessToken, error) {
	return AccessToken{value: secret(s.token), Expiry: time.Now().Add(time.Hour), User: s.user}, nil
}
