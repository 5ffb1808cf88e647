package auth

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/emersion/go-sasl"
)

// XOAUTH2 is the name of Google's and Microsoft's bearer-token mechanism.
const XOAUTH2 = "XOAUTH2"

// NewXOAUTH2 returns a SASL client for XOAUTH2, which go-sasl lacks. Its
// initial response is "user=USER^Aauth=Bearer TOKEN^A^A". When the server
// refuses the token it sends a JSON failure challenge, which this client
// answers with an empty response, as the mechanism requires, so that the
// server can finish with its error; the challenge is kept for
// FailureChallenge.
func NewXOAUTH2(user, token string) sasl.Client {
	return &xoauth2{user: user, token: token}
}

type xoauth2 struct {
	user, token string
	failure     string
}

func (x *xoauth2) Start() (string, []byte, error) {
	return XOAUTH2, []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x *xoauth2) Next(challenge []byte) ([]byte, error) {
	x.failure = string(challenge)
	return []byte{}, nil
}

func (x *xoauth2) failureChallenge() string { return x.failure }

// NewOAuthBearer returns go-sasl's OAUTHBEARER client (RFC 7628) made to
// answer a failure challenge: go-sasl's returns an error instead, leaving
// the server waiting for the client's %x01 and the command hanging.
func NewOAuthBearer(user, token string) sasl.Client {
	return &oauthBearer{Client: sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: user, Token: token})}
}

type oauthBearer struct {
	sasl.Client
	failure string
}

func (o *oauthBearer) Next(challenge []byte) ([]byte, error) {
	if resp, err := o.Client.Next(challenge); err == nil {
		return resp, nil
	}
	o.failure = string(challenge)
	return []byte{0x01}, nil
}

func (o *oauthBearer) failureChallenge() string { return o.failure }

// FailureChallenge describes the failure challenge a server sent to c, an
// XOAUTH2 or OAUTHBEARER client of this package, before refusing it:
// "status 401, scope https://...". It is "" when there was none.
func FailureChallenge(c sasl.Client) string {
	fc, ok := c.(interface{ failureChallenge() string })
	if !ok || fc.failureChallenge() == "" {
		return ""
	}
	return describeChallenge(fc.failureChallenge())
}

// NoRolesNote is what TokenShortfall says of an app-only token without
// application permissions, which Exchange refuses.
const NoRolesNote = "the app-only token carries no roles (application permissions)"

// shortOf is a mechanism whose token is known to lack what the server
// will want.
type shortOf struct {
	sasl.Client
	note string
}

func (s shortOf) failureChallenge() string {
	if fc, ok := s.Client.(interface{ failureChallenge() string }); ok {
		return fc.failureChallenge()
	}
	return ""
}

// TokenShortfall says what the token c presents lacks, when that is known
// and explains a refusal (NoRolesNote); "" otherwise.
func TokenShortfall(c sasl.Client) string {
	if s, ok := c.(shortOf); ok {
		return s.note
	}
	return ""
}

// describeChallenge turns {"status":"401","schemes":"bearer","scope":"…"}
// into words; anything else is shown as it came, quoted.
func describeChallenge(raw string) string {
	var c struct {
		Status  string `json:"status"`
		Schemes string `json:"schemes"`
		Scope   string `json:"scope"`
	}
	if err := json.Unmarshal([]byte(raw), &c); err != nil || c.Status == "" {
		return fmt.Sprintf("%q", raw)
	}
	s := "status " + printable(c.Status)
	if c.Scope != "" {
		s += ", scope " + printable(c.Scope)
	}
	return s
}

// printable drops control characters from server text bound for a log
// line.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// pickMechanism chooses XOAUTH2, which Microsoft and Google take, unless
// the server lists mechanisms without it and with OAUTHBEARER. A server
// that lists none may still take XOAUTH2 (some POP3 servers do not say).
func pickMechanism(offered []string) (string, error) {
	has := func(m string) bool {
		return slices.ContainsFunc(offered, func(o string) bool { return strings.EqualFold(o, m) })
	}
	switch {
	case len(offered) == 0 || has(XOAUTH2):
		return XOAUTH2, nil
	case has(sasl.OAuthBearer):
		return sasl.OAuthBearer, nil
	}
	return "", fmt.Errorf("the server offers neither XOAUTH2 nor OAUTHBEARER (it offers %s), so it cannot take an OAuth2 token; check the host, or use auth = \"password\"", strings.Join(offered, ", "))
}
