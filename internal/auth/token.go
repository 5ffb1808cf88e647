package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpproxy"

	"mailtask/internal/version"
)

// grant is what a token endpoint returned.
type grant struct {
	access, refresh secret
	expiry          time.Time
	idToken         string
}

// tokenResponse is the token endpoint's reply (RFC 6749 5.1), with the ID
// token that OpenID Connect adds. expires_in is a number, or a string on
// some older endpoints.
type tokenResponse struct {
	AccessToken  string      `json:"access_token"`
	TokenType    string      `json:"token_type"`
	RefreshToken string      `json:"refresh_token"`
	ExpiresIn    json.Number `json:"expires_in"`
	IDToken      string      `json:"id_token"`
}

// errorResponse is an OAuth2 error (RFC 6749 5.2). Microsoft's description
// starts with the AADSTS code and ends with trace and correlation IDs,
// which is what its support asks for.
type errorResponse struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// maxResponse bounds what is read from an identity endpoint.
const maxResponse = 1 << 20

// postToken sends one token request (form already holds grant_type and
// its parameters) and reads the reply. Every grant goes through here, so
// that each is sent, logged and explained the same way: x/oauth2's own
// refresher cannot send the scope Microsoft expects on refresh, and its
// device-code poller waits on real timers.
func (s *Source) postToken(ctx context.Context, op string, form url.Values) (*grant, error) {
	return s.postTokenAt(ctx, s.ep.TokenURL, op, form)
}

// postTokenAt is postToken to endpoint: a service account's, which its
// key file names.
func (s *Source) postTokenAt(ctx context.Context, endpoint, op string, form url.Values) (*grant, error) {
	fail := &Error{Account: s.account.Name, Op: op, Host: hostOf(endpoint)}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		fail.Err = err
		return nil, fail
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", version.UserAgent())
	s.log.Debug("token request", "account", s.account.Name, "grant_type", form.Get("grant_type"), "endpoint", fail.Host)
	resp, err := s.http.Do(req)
	if err != nil {
		fail.Err = stripURL(err)
		return nil, fail
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		fail.Err = err
		return nil, fail
	}
	s.log.Debug("token response", "account", s.account.Name, "grant_type", form.Get("grant_type"), "status", resp.StatusCode)
	fail.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		var e errorResponse
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			fail.Code = e.Error
			fail.Description = oneLine(e.Description)
		}
		return nil, fail
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		fail.Err = errors.New("the reply holds no access token")
		return nil, fail
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		fail.Err = fmt.Errorf("token type %q is not Bearer", tr.TokenType)
		return nil, fail
	}
	g := &grant{access: secret(tr.AccessToken), refresh: secret(tr.RefreshToken), idToken: tr.IDToken}
	if secs, err := strconv.ParseInt(tr.ExpiresIn.String(), 10, 64); err == nil && secs > 0 {
		g.expiry = s.clock.Now().Add(time.Duration(secs) * time.Second)
	} else {
		// No lifetime given: assume the shortest common one rather than
		// reuse a token forever.
		g.expiry = s.clock.Now().Add(time.Hour)
	}
	return g, nil
}

// stripURL drops the URL a *url.Error repeats: the message already names
// the host, and a URL may carry parameters.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// oneLine joins the lines of Microsoft's multi-line descriptions.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// NewHTTPClient returns the client for identity endpoints: it goes through
// the proxy that HTTPS_PROXY / HTTP_PROXY name unless NO_PROXY exempts the
// host (read when the client is made), follows no redirects (a token
// request is never redirected to another host), and gives up after
// timeout.
func NewHTTPClient(timeout time.Duration) *http.Client {
	proxy := httpproxy.FromEnvironment().ProxyFunc()
	dialer := &net.Dialer{Timeout: timeout}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 func(r *http.Request) (*url.URL, error) { return proxy(r.URL) },
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			ForceAttemptHTTP2:     true,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
