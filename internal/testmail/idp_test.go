package testmail

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"mailtask/internal/clock"
)

const idpRedirect = "http://localhost:9090/register_microsoft_graph_api/"

func startIdP(t *testing.T, opts IdPOptions) *IdP {
	t.Helper()
	if opts.RedirectURL == "" {
		opts.RedirectURL = idpRedirect
	}
	p, err := StartIdP(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// noRedirects is a browser that stops at the redirect back to the app.
var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// idpReply is a token endpoint reply, success or error.
type idpReply struct {
	status                                int
	AccessToken, RefreshToken, IDToken    string
	Error, ErrorDescription               string
	ErrorCodes                            []int
	DeviceCode, UserCode, VerificationURI string
	Interval                              int
}

func postForm(t *testing.T, endpoint string, form url.Values) idpReply {
	t.Helper()
	resp, err := noRedirects.PostForm(endpoint, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw struct {
		AccessToken      string `json:"access_token"`
		RefreshToken     string `json:"refresh_token"`
		IDToken          string `json:"id_token"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		ErrorCodes       []int  `json:"error_codes"`
		DeviceCode       string `json:"device_code"`
		UserCode         string `json:"user_code"`
		VerificationURI  string `json:"verification_uri"`
		Interval         int    `json:"interval"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatalf("%s: reply is not JSON: %v", endpoint, err)
	}
	return idpReply{resp.StatusCode, raw.AccessToken, raw.RefreshToken, raw.IDToken, raw.Error, raw.ErrorDescription, raw.ErrorCodes, raw.DeviceCode, raw.UserCode, raw.VerificationURI, raw.Interval}
}

// authorizeCode runs the browser step and returns the code.
func authorizeCode(t *testing.T, p *IdP, verifier, state string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {p.ClientID()}, "response_type": {"code"}, "redirect_uri": {idpRedirect}, "state": {state},
		"scope":          {"https://outlook.office.com/IMAP.AccessAsUser.All offline_access openid"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	resp, err := noRedirects.Get(p.Endpoint("common", "authorize") + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(back.String(), idpRedirect) {
		t.Fatalf("authorize: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if back.Query().Get("state") != state {
		t.Fatalf("state came back as %q, want %q", back.Query().Get("state"), state)
	}
	return back.Query().Get("code")
}

func redeem(t *testing.T, p *IdP, code, verifier string) idpReply {
	t.Helper()
	return postForm(t, p.Endpoint("common", "token"), url.Values{
		"grant_type": {"authorization_code"}, "client_id": {p.ClientID()}, "code": {code},
		"redirect_uri": {idpRedirect}, "code_verifier": {verifier},
	})
}

func TestIdPAuthorizationCodeWithPKCE(t *testing.T) {
	p := startIdP(t, IdPOptions{})
	const verifier = "the-verifier-of-at-least-forty-three-characters-xyz"

	// A wrong verifier is refused, and burns the code as Entra does.
	code := authorizeCode(t, p, verifier, "s1")
	if r := redeem(t, p, code, "another-verifier-of-at-least-forty-three-chars"); r.Error != "invalid_grant" || !strings.HasPrefix(r.ErrorDescription, "AADSTS501481:") {
		t.Errorf("wrong verifier: %+v", r)
	}
	if r := redeem(t, p, code, verifier); r.Error != "invalid_grant" {
		t.Errorf("a refused code was accepted the second time: %+v", r)
	}

	code = authorizeCode(t, p, verifier, "s2")
	r := redeem(t, p, code, verifier)
	if r.status != 200 || r.AccessToken == "" || r.RefreshToken == "" || r.IDToken == "" {
		t.Fatalf("redeem: %+v", r)
	}
	g, ok := p.Introspect(r.AccessToken)
	if !ok || g.User != p.User() || len(g.Scopes) != 1 || g.Scopes[0] != "IMAP.AccessAsUser.All" {
		t.Errorf("token stands for %+v (live %v)", g, ok)
	}
	if !p.CheckToken("IMAP.AccessAsUser.All")(p.User(), r.AccessToken) || p.CheckToken("POP.AccessAsUser.All")(p.User(), r.AccessToken) {
		t.Error("CheckToken does not go by the granted permission")
	}
	if p.CheckToken("IMAP.AccessAsUser.All")("bob@contoso.com", r.AccessToken) {
		t.Error("CheckToken accepted another user's token")
	}
}

func TestIdPAuthorizeRefusals(t *testing.T) {
	p := startIdP(t, IdPOptions{})
	get := func(tenant string, q url.Values) *http.Response {
		t.Helper()
		resp, err := noRedirects.Get(p.Endpoint(tenant, "authorize") + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	good := func() url.Values {
		return url.Values{"client_id": {p.ClientID()}, "response_type": {"code"}, "redirect_uri": {idpRedirect}, "state": {"s"},
			"code_challenge": {"c"}, "code_challenge_method": {"S256"}}
	}
	q := good()
	q.Set("redirect_uri", "http://localhost:1/other")
	if resp := get("common", q); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unregistered redirect: status %d, want an error page", resp.StatusCode)
	}
	if resp := get("nosuch.example", good()); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown tenant: status %d", resp.StatusCode)
	}
	q = good()
	q.Del("code_challenge")
	if resp := get("common", q); !strings.Contains(resp.Header.Get("Location"), "error=invalid_request") {
		t.Errorf("no PKCE: sent back to %q", resp.Header.Get("Location"))
	}
	p.FailNext("authorize", IdPError{Code: "access_denied", AADSTS: 65004, Message: "User declined to consent to access the app."})
	if loc := get("common", good()).Header.Get("Location"); !strings.Contains(loc, "error=access_denied") || !strings.Contains(loc, "AADSTS65004") || !strings.Contains(loc, "state=s") {
		t.Errorf("declined consent: sent back to %q", loc)
	}
}

func TestIdPRotatesRefreshTokens(t *testing.T) {
	p := startIdP(t, IdPOptions{})
	const verifier = "the-verifier-of-at-least-forty-three-characters-xyz"
	first := redeem(t, p, authorizeCode(t, p, verifier, "s"), verifier).RefreshToken
	refresh := func(rt string) idpReply {
		return postForm(t, p.Endpoint("common", "token"), url.Values{
			"grant_type": {"refresh_token"}, "client_id": {p.ClientID()}, "refresh_token": {rt},
			"scope": {"https://outlook.office.com/IMAP.AccessAsUser.All offline_access"},
		})
	}
	second := refresh(first)
	if second.RefreshToken == "" || second.RefreshToken == first {
		t.Fatalf("refresh did not rotate: %+v", second)
	}
	if r := refresh(first); r.Error != "invalid_grant" || len(r.ErrorCodes) != 1 || r.ErrorCodes[0] != 70008 {
		t.Errorf("the rotated-out refresh token was accepted or refused oddly: %+v", r)
	}
	if r := refresh(second.RefreshToken); r.AccessToken == "" {
		t.Errorf("the new refresh token was refused: %+v", r)
	}
	if n := p.Requests("refresh_token"); n != 3 {
		t.Errorf("Requests = %d, want 3", n)
	}
}

func TestIdPClientCredentials(t *testing.T) {
	p := startIdP(t, IdPOptions{ClientSecret: "s3cret-value"})
	token := func(tenant string, form url.Values) idpReply {
		form.Set("grant_type", "client_credentials")
		form.Set("client_id", p.ClientID())
		return postForm(t, p.Endpoint(tenant, "token"), form)
	}
	if r := token(p.Tenant(), url.Values{"client_secret": {"wrong"}, "scope": {"https://outlook.office365.com/.default"}}); r.status != 401 || r.ErrorCodes[0] != 7000215 {
		t.Errorf("wrong secret: %+v", r)
	}
	if r := token(p.Tenant(), url.Values{"scope": {"https://outlook.office365.com/.default"}}); r.ErrorCodes[0] != 7000218 {
		t.Errorf("no secret: %+v", r)
	}
	if r := token(p.Tenant(), url.Values{"client_secret": {"s3cret-value"}, "scope": {"https://outlook.office.com/IMAP.AccessAsUser.All"}}); r.Error != "invalid_scope" {
		t.Errorf("delegated scope: %+v", r)
	}
	if r := token("common", url.Values{"client_secret": {"s3cret-value"}, "scope": {"https://outlook.office365.com/.default"}}); r.ErrorCodes[0] != 90002 {
		t.Errorf("app-only on common: %+v", r)
	}
	r := token(p.Tenant(), url.Values{"client_secret": {"s3cret-value"}, "scope": {"https://outlook.office365.com/.default"}})
	if r.AccessToken == "" || r.RefreshToken != "" {
		t.Fatalf("app-only: %+v", r)
	}
	if !p.CheckToken("IMAP.AccessAsUser.All")("anyone@contoso.com", r.AccessToken) {
		t.Error("an app-only token with IMAP.AccessAsApp was not accepted for a mailbox")
	}
}

func TestIdPDeviceCode(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 1, 31, 8, 0, 0, 0, time.UTC))
	p := startIdP(t, IdPOptions{DeviceReplies: []string{"slow_down"}, Clock: clk})
	dc := postForm(t, p.Endpoint("organizations", "devicecode"), url.Values{"client_id": {p.ClientID()}, "scope": {"https://outlook.office.com/POP.AccessAsUser.All offline_access"}})
	if dc.DeviceCode == "" || dc.UserCode == "" || dc.Interval != 5 || !strings.HasSuffix(dc.VerificationURI, "/devicelogin") {
		t.Fatalf("devicecode: %+v", dc)
	}
	poll := func() idpReply {
		return postForm(t, p.Endpoint("organizations", "token"), url.Values{
			"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "client_id": {p.ClientID()}, "device_code": {dc.DeviceCode},
		})
	}
	for _, want := range []string{"slow_down", "authorization_pending"} {
		if r := poll(); r.Error != want {
			t.Fatalf("poll: %+v, want %s", r, want)
		}
	}
	resp, err := http.Get(dc.VerificationURI + "?code=" + dc.UserCode) // the user, on another device
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("verification page: %v %v", resp, err)
	}
	resp.Body.Close()
	if r := poll(); r.AccessToken == "" || r.RefreshToken == "" {
		t.Fatalf("after approval: %+v", r)
	}
	if r := poll(); r.Error != "invalid_grant" {
		t.Errorf("a redeemed device code was accepted again: %+v", r)
	}

	// A code nobody approves expires.
	dc = postForm(t, p.Endpoint("organizations", "devicecode"), url.Values{"client_id": {p.ClientID()}})
	poll() // the scripted slow_down
	clk.Advance(16 * time.Minute)
	if r := poll(); r.Error != "expired_token" {
		t.Errorf("after 16 minutes: %+v", r)
	}
}

func TestIdPIntrospection(t *testing.T) {
	clk := clock.NewFake(time.Date(2025, 1, 31, 8, 0, 0, 0, time.UTC))
	p := startIdP(t, IdPOptions{ClientSecret: "s", Clock: clk, AppMailbox: "invoices@contoso.com"})
	tok := postForm(t, p.Endpoint(p.Tenant(), "token"), url.Values{"grant_type": {"client_credentials"}, "client_id": {p.ClientID()}, "client_secret": {"s"}, "scope": {"https://outlook.office365.com/.default"}}).AccessToken
	introspect := func(token string) map[string]any {
		resp, err := http.PostForm(p.IntrospectURL(), url.Values{"token": {token}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return v
	}
	if v := introspect(tok); v["active"] != true || v["username"] != "invoices@contoso.com" {
		t.Errorf("live app-only token: %v, want it active for the app's mailbox", v)
	}
	// Without a mailbox permission, or without roles, the app gets in
	// nowhere.
	for _, opts := range []IdPOptions{{ClientSecret: "s"}, {ClientSecret: "s", AppMailbox: "invoices@contoso.com", AppRoles: []string{}}} {
		q := startIdP(t, opts)
		other := postForm(t, q.Endpoint(q.Tenant(), "token"), url.Values{"grant_type": {"client_credentials"}, "client_id": {q.ClientID()}, "client_secret": {"s"}, "scope": {"https://outlook.office365.com/.default"}}).AccessToken
		resp, err := http.PostForm(q.IntrospectURL(), url.Values{"token": {other}})
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if v["active"] != false {
			t.Errorf("app-only token with mailbox %q and roles %v: %v, want inactive", opts.AppMailbox, opts.AppRoles, v)
		}
	}
	if v := introspect("forged"); v["active"] != false {
		t.Errorf("unknown token: %v", v)
	}
	clk.Advance(2 * time.Hour)
	if v := introspect(tok); v["active"] != false {
		t.Errorf("expired token: %v", v)
	}
}
