package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/oauth2"

	"mailtask/internal/config"
)

// loginScopes are the scopes a sign-in asks for: the configured ones and
// those that make the platform say who signed in.
func (s *Source) loginScopes() []string {
	scopes := slices.Clone(s.o.Scopes)
	for _, id := range identityScopes(s.o.Provider) {
		if !slices.Contains(scopes, id) {
			scopes = append(scopes, id)
		}
	}
	return scopes
}

// LoginBrowser runs the authorization code flow with PKCE: it listens on
// the redirect URL's host, port and path, calls show with the sign-in URL,
// waits for the browser to come back with a code (checking the state it
// sent), redeems the code and stores the tokens. It ends when ctx does.
func (s *Source) LoginBrowser(ctx context.Context, show func(signInURL string)) (*Record, error) {
	if !s.o.Delegated() {
		return nil, fmt.Errorf("account %q: flow %q needs no sign-in", s.account.Name, s.o.Flow)
	}
	redirect, err := url.Parse(s.o.RedirectURL)
	if err != nil || redirect.Scheme != "http" {
		return nil, fmt.Errorf("account %q: oauth2.redirect_url %q must be an http:// URL on this machine", s.account.Name, s.o.RedirectURL)
	}
	state := randomString()
	verifier := oauth2.GenerateVerifier()
	cfg := oauth2.Config{ClientID: s.o.ClientID, Endpoint: s.ep, RedirectURL: s.o.RedirectURL, Scopes: s.loginScopes()}
	signIn := cfg.AuthCodeURL(state, append(authURLParams(s.o, s.account.Username), oauth2.S256ChallengeOption(verifier))...)

	results := make(chan callbackResult, 1)
	cb := &callback{path: redirect.EscapedPath(), state: state, results: results}
	if cb.path == "" {
		cb.path = "/"
	}
	listeners, err := listenRedirect(redirect)
	if err != nil {
		return nil, fmt.Errorf("account %q: cannot wait for the browser's return at %s (oauth2.redirect_url): %w", s.account.Name, s.o.RedirectURL, err)
	}
	srv := &http.Server{Handler: cb, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		done := make(chan struct{}, len(listeners))
		for _, l := range listeners {
			go func() { srv.Serve(l); done <- struct{}{} }()
		}
		for range listeners {
			<-done
		}
	}()
	defer func() {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
		<-served
	}()

	show(signIn)
	var res callbackResult
	select {
	case res = <-results:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, &NoReturnError{Account: s.account.Name, RedirectURL: s.o.RedirectURL}
		}
		return nil, fmt.Errorf("account %q: sign-in not completed: %w", s.account.Name, ctx.Err())
	}
	if res.errCode != "" {
		return nil, &Error{Account: s.account.Name, Op: "sign-in", Host: hostOf(s.ep.AuthURL), Code: res.errCode, Description: res.errDesc}
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {res.code},
		"redirect_uri":  {s.o.RedirectURL},
		"code_verifier": {verifier},
		"client_id":     {s.o.ClientID},
	}
	if s.o.Provider == config.ProviderMicrosoft {
		form.Set("scope", strings.Join(cfg.Scopes, " "))
	}
	if err := s.addClientCredential(form); err != nil {
		return nil, err
	}
	g, err := s.postToken(ctx, "sign-in", form)
	if err != nil {
		return nil, err
	}
	return s.saveSignIn(ctx, config.FlowAuthorizationCode, g)
}

// listenRedirect listens where the browser will be sent. A browser may
// resolve "localhost" to either loopback address, so both are taken; only
// an address this machine lacks (no IPv6) is left out. A port another
// program holds on either fails at once, naming that program when it can
// be known: listening on the other address alone would send the browser
// to the other program (CrushFTP itself, on 9090).
func listenRedirect(u *url.URL) ([]net.Listener, error) {
	port := u.Port()
	if port == "" {
		port = "80"
	}
	hosts := []string{u.Hostname()}
	if strings.EqualFold(u.Hostname(), "localhost") {
		hosts = []string{"127.0.0.1", "::1"}
	}
	var ls []net.Listener
	closeAll := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	for i, h := range hosts {
		l, err := net.Listen("tcp", net.JoinHostPort(h, port))
		switch {
		case err == nil:
			ls = append(ls, l)
		case errors.Is(err, syscall.EADDRINUSE):
			closeAll()
			n, _ := strconv.Atoi(port)
			holder := portOwner(n)
			if holder == "" {
				holder = "another program"
			}
			return nil, fmt.Errorf("port %s on %s is taken by %s: stop it, or register another redirect URL with the app and set oauth2.redirect_url to it (e.g. http://localhost:%d%s)", port, h, holder, n+1, u.EscapedPath())
		case i > 0 && (errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT)):
			// No such address here (IPv6 off): no browser reaches it either.
		default:
			closeAll()
			return nil, err
		}
	}
	return ls, nil
}

// callbackResult is a code, or the error the platform sent instead.
type callbackResult struct {
	code, errCode, errDesc string
}

// callback is the redirect URL's handler: the browser arrives with
// ?code=…&state=… or ?error=…&error_description=…&state=….
type callback struct {
	path, state string
	results     chan callbackResult
}

func (c *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.EscapedPath() != c.path {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(c.state)) != 1 {
		// Another attempt's page, or a forged request: keep waiting for
		// the right one.
		page(w, http.StatusBadRequest, "This sign-in page belongs to another attempt. Use the link mailtask printed last.")
		return
	}
	var res callbackResult
	switch {
	case q.Get("error") != "":
		res.errCode, res.errDesc = q.Get("error"), oneLine(q.Get("error_description"))
		page(w, http.StatusOK, "Sign-in failed: "+q.Get("error")+": "+q.Get("error_description")+". mailtask shows what to do.")
	case q.Get("code") == "":
		page(w, http.StatusBadRequest, "The identity platform sent no code.")
		return
	default:
		res.code = q.Get("code")
		page(w, http.StatusOK, "mailtask received the sign-in. You can close this tab and return to the terminal.")
	}
	select {
	case c.results <- res:
	default: // a second arrival; the first one counts
	}
}

func page(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>mailtask</title><p>%s</p>\n", html.EscapeString(msg))
}

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DeviceCode is what the user needs to finish a device-code sign-in on
// another device.
type DeviceCode struct {
	UserCode        string
	VerificationURI string
	// VerificationURIComplete, when the platform gives one, carries the
	// code already.
	VerificationURIComplete string
	Expires                 time.Time
}

// devicePollDefault is RFC 8628's interval when the platform names none;
// slowDownStep is what each slow_down adds.
const (
	devicePollDefault = 5 * time.Second
	slowDownStep      = 5 * time.Second
)

// LoginDevice runs the device-code flow: it asks for a code, calls show
// with it, then polls the token endpoint as the platform asks (waiting the
// interval between polls and 5 s more after each slow_down) until the user
// has signed in on another device, the code expires or ctx ends.
func (s *Source) LoginDevice(ctx context.Context, show func(DeviceCode)) (*Record, error) {
	if !s.o.Delegated() {
		return nil, fmt.Errorf("account %q: flow %q needs no sign-in", s.account.Name, s.o.Flow)
	}
	name := s.account.Name
	cfg := oauth2.Config{ClientID: s.o.ClientID, Endpoint: s.ep, Scopes: s.loginScopes()}
	da, err := cfg.DeviceAuth(context.WithValue(ctx, oauth2.HTTPClient, s.http))
	if err != nil {
		fail := &Error{Account: name, Op: "device code", Host: hostOf(s.ep.DeviceAuthURL)}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			fail.Code, fail.Description, fail.Status = re.ErrorCode, oneLine(re.ErrorDescription), re.Response.StatusCode
		} else {
			fail.Err = stripURL(err)
		}
		return nil, fail
	}
	code := DeviceCode{UserCode: da.UserCode, VerificationURI: da.VerificationURI, VerificationURIComplete: da.VerificationURIComplete}
	if !da.Expiry.IsZero() {
		// x/oauth2 dates the expiry by the wall clock; carry the remaining
		// time over to ours.
		code.Expires = s.clock.Now().Add(time.Until(da.Expiry).Round(time.Second))
	}
	show(code)

	interval := time.Duration(da.Interval) * time.Second
	if interval <= 0 {
		interval = devicePollDefault
	}
	for {
		t := s.clock.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				// Not a server's silence: nobody finished signing in.
				return nil, fmt.Errorf("account %q: nobody signed in with the code %s: %w", name, code.UserCode, ErrWaitEnded)
			}
			return nil, fmt.Errorf("account %q: sign-in not completed: %w", name, ctx.Err())
		case <-t.C():
		}
		// Each poll proves the app anew: a client assertion is for one
		// request, and would expire before a slow sign-in ends.
		form := url.Values{
			"grant_type":  {"urn:ietf:params:oauth:grant-type:device_code"},
			"device_code": {da.DeviceCode},
			"client_id":   {s.o.ClientID},
		}
		if err := s.addClientCredential(form); err != nil {
			return nil, err
		}
		g, err := s.postToken(ctx, "sign-in", form)
		switch {
		case err == nil:
			return s.saveSignIn(ctx, config.FlowDeviceCode, g)
		case isCode(err, "authorization_pending"):
		case isCode(err, "slow_down"):
			interval += slowDownStep
		case isCode(err, "expired_token"), isCode(err, "code_expired"):
			return nil, fmt.Errorf("account %q: the code %s expired before anyone signed in with it; run `mailtask auth login --device %s` again", name, code.UserCode, name)
		case isCode(err, "authorization_declined"), isCode(err, "access_denied"):
			return nil, fmt.Errorf("account %q: the sign-in was declined: %w", name, err)
		default:
			return nil, err
		}
		if !code.Expires.IsZero() && s.clock.Now().After(code.Expires) {
			return nil, fmt.Errorf("account %q: the code %s expired before anyone signed in with it; run `mailtask auth login --device %s` again", name, code.UserCode, name)
		}
	}
}
