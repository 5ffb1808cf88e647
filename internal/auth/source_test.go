package auth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/version"
)

var start = time.Date(2025, 1, 31, 8, 0, 0, 0, time.UTC)

func TestAccessTokenReusedUntilCloseToExpiry(t *testing.T) {
	clk := clock.NewFake(start)
	f := newFixture(t, fixtureOptions{clock: clk}) // access tokens live 1h
	first := f.signIn()
	src := f.source()

	clk.Advance(50 * time.Minute) // 10 minutes left: reused
	tok, err := src.Token(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Bearer() != string(mustAccess(f)) || f.idp.Requests("refresh_token") != 0 {
		t.Fatalf("a token with 10 minutes left was not reused (%d refreshes)", f.idp.Requests("refresh_token"))
	}
	if tok.User != mailboxUser {
		t.Errorf("token user %q", tok.User)
	}

	clk.Advance(6 * time.Minute) // 4 minutes left: renewed
	tok, err = src.Token(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if f.idp.Requests("refresh_token") != 1 || !tok.Expiry.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("a token with 4 minutes left: %d refreshes, expiry %v", f.idp.Requests("refresh_token"), tok.Expiry)
	}
	if !f.idp.CheckToken("IMAP.AccessAsUser.All")(mailboxUser, tok.Bearer()) {
		t.Error("the renewed token is not live at the IdP")
	}

	// The rotated refresh token is on disk: the one signed in with is dead
	// at the IdP, the stored one works.
	rec, err := src.Record(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, storedRefresh := f.storedTokens()
	if storedRefresh == string(first.RefreshToken) || !rec.RefreshIssued.Equal(clk.Now()) {
		t.Fatalf("refresh token not rotated in the store (issued %v)", rec.RefreshIssued)
	}
	if r := rawRefresh(t, f, string(first.RefreshToken)); r != http.StatusBadRequest {
		t.Errorf("the first refresh token still works (%d); the IdP does not rotate", r)
	}
	clk.Advance(time.Hour)
	if _, err := f.source().Token(testCtx(t)); err != nil {
		t.Errorf("a new Source with the stored refresh token: %v", err)
	}
}

func mustAccess(f *fixture) string {
	access, _ := f.storedTokens()
	return access
}

// rawRefresh redeems rt directly and returns the HTTP status.
func rawRefresh(t *testing.T, f *fixture, rt string) int {
	t.Helper()
	resp, err := http.PostForm(f.idp.Endpoint(tenant, "token"), url.Values{
		"grant_type": {"refresh_token"}, "client_id": {f.idp.ClientID()}, "refresh_token": {rt},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestNotSignedIn(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	_, err := f.source().Token(testCtx(t))
	var ns *auth.NotSignedInError
	if !errors.As(err, &ns) || !strings.Contains(err.Error(), "mailtask auth login m365") {
		t.Fatalf("got %v", err)
	}
	if f.idp.Requests("refresh_token") != 0 {
		t.Error("a token request went out without a refresh token")
	}
}

func TestRefreshRefused(t *testing.T) {
	clk := clock.NewFake(start)
	f := newFixture(t, fixtureOptions{clock: clk})
	before := f.signIn()
	f.idp.RevokeRefreshTokens()
	clk.Advance(2 * time.Hour)
	_, err := f.source().Token(testCtx(t))
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Code != "invalid_grant" || !strings.Contains(ae.Description, "AADSTS70008") || ae.Temporary() {
		t.Fatalf("got %v, want a permanent invalid_grant with AADSTS70008", err)
	}
	for _, want := range []string{`account "m365"`, "token refresh", "127.0.0.1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, rt := f.storedTokens(); rt != string(before.RefreshToken) {
		t.Error("a refused refresh changed the stored refresh token")
	}
}

func TestSignInForAnotherClientIsNotUsed(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.signIn()
	f.acct.OAuth2.ClientID = "11111111-2222-3333-4444-555555555555"
	_, err := f.source().Token(testCtx(t))
	var ns *auth.NotSignedInError
	if !errors.As(err, &ns) || !strings.Contains(err.Error(), "11111111-2222-3333-4444-555555555555") {
		t.Fatalf("got %v", err)
	}
}

func TestScopeChangeRefreshesWithTheNewScopes(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.signIn()
	// The sign-in consented to IMAP only: asking for POP is refused, and
	// says so, instead of reusing the IMAP token.
	f.acct.OAuth2.Scopes = []string{config.ScopeMicrosoftPOP, config.ScopeOfflineAccess}
	_, err := f.source().Token(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), "AADSTS65001") {
		t.Fatalf("got %v, want the platform's consent error", err)
	}
}

func TestAppOnlyTokens(t *testing.T) {
	clk := clock.NewFake(start)
	t.Setenv("MT_TEST_CLIENT_SECRET", clientSecret)
	f := newFixture(t, fixtureOptions{clock: clk, oauth: "flow = \"client_credentials\"\nclient_secret_env = \"MT_TEST_CLIENT_SECRET\"\nclient_secret_expires = 2099-01-01"})
	tok, err := f.source().Token(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if tok.User != "" || !f.idp.CheckToken("IMAP.AccessAsUser.All")(mailboxUser, tok.Bearer()) {
		t.Errorf("app-only token for %q not accepted as IMAP.AccessAsApp", tok.User)
	}
	if _, err := f.source().Token(testCtx(t)); err != nil || f.idp.Requests("client_credentials") != 1 {
		t.Errorf("second run: %v, %d token requests; want the stored token reused", err, f.idp.Requests("client_credentials"))
	}
	clk.Advance(56 * time.Minute)
	if _, err := f.source().Token(testCtx(t)); err != nil || f.idp.Requests("client_credentials") != 2 {
		t.Errorf("near expiry: %v, %d token requests; want a new token", err, f.idp.Requests("client_credentials"))
	}

	t.Setenv("MT_TEST_CLIENT_SECRET", "the secret ID, not its value")
	clk.Advance(time.Hour)
	_, err = f.source().Token(testCtx(t))
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Code != "invalid_client" || ae.Status != 401 || !strings.Contains(ae.Description, "AADSTS7000215") {
		t.Fatalf("wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), "the secret ID") {
		t.Errorf("the error shows the secret: %v", err)
	}
}

func TestTokenEndpointUnreachable(t *testing.T) {
	f := newFixture(t, fixtureOptions{oauth: "flow = \"client_credentials\"\nclient_secret = \"x\""})
	f.acct.OAuth2.TokenURL = "http://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/t/oauth2/v2.0/token"
	_, err := f.source().Token(testCtx(t))
	var ae *auth.Error
	if !errors.As(err, &ae) || ae.Err == nil || !ae.Temporary() || !auth.IsTemporary(err) {
		t.Fatalf("got %v, want a temporary transport failure", err)
	}
}

// TestProxyFromEnvironment: identity endpoints are reached through the
// proxy that HTTP_PROXY / HTTPS_PROXY name, unless NO_PROXY exempts them;
// the proxy's log, like the identity platform's, tells mailtask's
// requests by their User-Agent.
func TestProxyFromEnvironment(t *testing.T) {
	f := newFixture(t, fixtureOptions{oauth: "flow = \"client_credentials\"\nclient_secret = \"" + clientSecret + "\""})
	var proxied atomic.Int32
	var agent atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A forward proxy sees the absolute URL of a host it alone can reach.
		if r.URL.Host != "login.idp.test" {
			http.Error(w, "unexpected host "+r.URL.Host, http.StatusBadGateway)
			return
		}
		proxied.Add(1)
		agent.Store(r.Header.Get("User-Agent"))
		out, _ := http.NewRequestWithContext(r.Context(), r.Method, f.idp.URL+r.URL.Path, r.Body)
		out.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	f.acct.OAuth2.TokenURL = "http://login.idp.test/" + tenant + "/oauth2/v2.0/token"

	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "")
	if _, err := f.source().Token(testCtx(t)); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	if ua, _ := agent.Load().(string); ua != version.UserAgent() {
		t.Errorf("the token request's User-Agent is %q, want %q", ua, version.UserAgent())
	}
	if proxied.Load() != 1 {
		t.Fatalf("the proxy saw %d requests, want 1", proxied.Load())
	}

	t.Setenv("NO_PROXY", "login.idp.test")
	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second)
	defer cancel()
	f.clearStore()
	if _, err := f.source().Token(ctx); err == nil {
		t.Error("with NO_PROXY the request reached an unresolvable host")
	}
	if proxied.Load() != 1 {
		t.Errorf("NO_PROXY was ignored: the proxy saw %d requests", proxied.Load())
	}
}

// clearStore forgets stored tokens, so that the next Token asks.
func (f *fixture) clearStore() {
	f.t.Helper()
	if err := os.RemoveAll(auth.StoreDir(f.cfg.StateDir)); err != nil {
		f.t.Fatal(err)
	}
}

func TestCredentialPicksMechanism(t *testing.T) {
	cred := auth.Bearer(mailboxUser, auth.StaticToken("tok", mailboxUser))
	for _, c := range []struct {
		offered []string
		want    string
	}{
		{nil, "XOAUTH2"},
		{[]string{"PLAIN", "XOAUTH2", "OAUTHBEARER"}, "XOAUTH2"},
		{[]string{"PLAIN", "OAUTHBEARER"}, "OAUTHBEARER"},
		{[]string{"plain", "xoauth2"}, "XOAUTH2"},
	} {
		mech, err := cred.SASL(context.Background(), c.offered)
		if err != nil {
			t.Fatal(err)
		}
		if name, _, _ := mech.Start(); name != c.want {
			t.Errorf("offered %v: %s, want %s", c.offered, name, c.want)
		}
	}
	if _, err := cred.SASL(context.Background(), []string{"PLAIN", "LOGIN"}); err == nil || !strings.Contains(err.Error(), "offers neither XOAUTH2 nor OAUTHBEARER (it offers PLAIN, LOGIN)") {
		t.Errorf("no token mechanism: %v", err)
	}
	if _, ok := cred.Password(); ok {
		t.Error("a token credential claims a password")
	}
	if pass, ok := auth.Password("u", "p").Password(); !ok || pass != "p" {
		t.Error("a password credential does not give its password")
	}
}

func TestNewWarnsOfSecretExpiryOnEveryRun(t *testing.T) {
	clk := clock.NewFake(time.Now())
	expires := clk.Now().Add(10 * 24 * time.Hour).Format(time.DateOnly)
	f := newFixture(t, fixtureOptions{clock: clk, oauth: "client_secret = \"x\"\nclient_secret_expires = " + expires})
	if _, err := auth.New(f.acct, f.options()); err != nil {
		t.Fatal(err)
	}
	if log := f.log.String(); !strings.Contains(log, "level=WARN") || !strings.Contains(log, "expires on "+expires) {
		t.Errorf("log: %s", log)
	}
}
