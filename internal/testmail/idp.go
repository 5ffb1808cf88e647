package testmail

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"mailtask/internal/clock"
)

// IdPOptions configure an IdP. The zero value is one directory with one
// app registration (a confidential client that may also use public-client
// flows) and one user.
type IdPOptions struct {
	// Tenant is the app's directory (default "contoso.onmicrosoft.com").
	// Requests may also name "common" or "organizations", except for
	// app-only tokens, which need the directory itself.
	Tenant       string
	ClientID     string // default "00000000-0000-0000-0000-00000000c11e"
	ClientSecret string // "" and no ClientCertificates make a public client: no app-only tokens
	// ClientCertificates are the certificates uploaded to the app
	// registration (Certificates & secrets > Certificates): a request may
	// prove the app with a client assertion signed by one's key, which the
	// IdP verifies as Entra does (idp_assertion.go) and refuses with
	// Entra's replies.
	ClientCertificates []*x509.Certificate
	// WebPlatform registers RedirectURL under the Web platform, as CrushFTP
	// does: the app is then a confidential client, and redeeming a code or
	// a refresh token (or polling a device code) without ClientSecret is
	// refused with AADSTS7000218, as Entra refuses it.
	WebPlatform bool
	// RedirectURL is the registered redirect URI; /authorize refuses any
	// other (AADSTS50011), as Entra does.
	RedirectURL string
	// User is who signs in in the browser and on the device page
	// (default "alice@contoso.com").
	User string
	// AccessTTL is the lifetime of access tokens (default 1h).
	AccessTTL time.Duration
	// DeviceInterval is the polling interval, in seconds, the device-code
	// endpoint asks for (default 5).
	DeviceInterval int
	// DeviceReplies are errors ("authorization_pending", "slow_down") sent
	// to each device code's first polls, in order, before its real state
	// (approved or not) counts.
	DeviceReplies []string
	// AppRoles are the application permissions app-only tokens carry
	// (default IMAP.AccessAsApp and POP.AccessAsApp; an empty, non-nil
	// list: none, as before admin consent).
	AppRoles []string
	// AppMailbox is the mailbox the app's service principal was given
	// (New-ServicePrincipal, Add-MailboxPermission): introspection names it
	// as the user of app-only tokens that carry roles, so that a mail
	// server checking tokens that way (Dovecot's oauth2 passdb) lets the
	// app into that mailbox only. "" gives the app no mailbox.
	AppMailbox string
	// ServiceAccounts are the Google service accounts whose grants the
	// Google token endpoint (GoogleTokenURL, idp_google.go) takes, acting
	// as one of WorkspaceUsers, the users of the Workspace domain.
	ServiceAccounts []GoogleServiceAccount
	WorkspaceUsers  []string
	Clock           clock.Clock // default the real one
}

// IdPError is a refusal the IdP sends, shaped like Entra's: an OAuth2
// error code, and a description starting "AADSTS<n>: ".
type IdPError struct {
	Status  int    // HTTP status (default 400)
	Code    string // "invalid_grant", "invalid_client", ...
	AADSTS  int
	Message string
}

// IdP is a fake Microsoft identity platform, and Google's token endpoint
// for service accounts (idp_google.go), on 127.0.0.1 speaking the real
// wire protocol: the /{tenant}/oauth2/v2.0/authorize redirect (with PKCE),
// form posts to /{tenant}/oauth2/v2.0/token for the authorization-code,
// refresh-token (rotated on every use: the old one is refused from then
// on), client-credentials and device-code grants, /{tenant}/oauth2/v2.0/
// devicecode, JSON errors with AADSTS codes, and an RFC 7662 introspection
// endpoint for mail servers (Dovecot's oauth2 passdb).
type IdP struct {
	URL string // http://127.0.0.1:port

	opts IdPOptions
	srv  *http.Server
	ln   net.Listener

	mu       sync.Mutex
	codes    map[string]*idpCode
	refresh  map[string]*idpGrant // live refresh tokens
	access   map[string]*idpGrant
	devices  map[string]*idpDevice // by device code
	failNext map[string]IdPError   // by grant type or endpoint
	requests map[string]int
	jtis     map[string]time.Time // the client assertions seen, until they expire
	// assertionForms are the algorithm and thumbprint of each assertion taken.
	assertionForms []string
}

// IdPGrant is what an access token stands for.
type IdPGrant struct {
	User   string   // "" for app-only tokens
	Scopes []string // delegated scopes without the resource ("IMAP.AccessAsUser.All")
	Roles  []string // application permissions of app-only tokens
	Expiry time.Time
}

type idpGrant struct {
	IdPGrant
	clientID string
	scopes   []string // as requested, with resources, for refresh
}

type idpCode struct {
	clientID, redirect, challenge, user string
	scopes                              []string
}

type idpDevice struct {
	userCode, clientID string
	scopes             []string
	expiry             time.Time
	replies            []string
	approvedBy         string
}

// StartIdP starts an IdP on 127.0.0.1:0.
func StartIdP(opts IdPOptions) (*IdP, error) {
	if opts.Tenant == "" {
		opts.Tenant = "contoso.onmicrosoft.com"
	}
	if opts.ClientID == "" {
		opts.ClientID = "00000000-0000-0000-0000-00000000c11e"
	}
	if opts.User == "" {
		opts.User = "alice@contoso.com"
	}
	if opts.AccessTTL == 0 {
		opts.AccessTTL = time.Hour
	}
	if opts.DeviceInterval == 0 {
		opts.DeviceInterval = 5
	}
	if opts.AppRoles == nil {
		opts.AppRoles = []string{"IMAP.AccessAsApp", "POP.AccessAsApp"}
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start test identity provider: %w", err)
	}
	p := &IdP{
		URL:      "http://" + ln.Addr().String(),
		opts:     opts,
		ln:       ln,
		codes:    map[string]*idpCode{},
		refresh:  map[string]*idpGrant{},
		access:   map[string]*idpGrant{},
		devices:  map[string]*idpDevice{},
		failNext: map[string]IdPError{},
		requests: map[string]int{},
		jtis:     map[string]time.Time{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", p.authorize)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", p.token)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/devicecode", p.deviceCode)
	mux.HandleFunc("GET /devicelogin", p.deviceLogin)
	mux.HandleFunc("POST /introspect", p.introspect)
	mux.HandleFunc("POST /token", p.googleToken)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// Close stops the IdP.
func (p *IdP) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.srv.Shutdown(ctx)
}

// Endpoint returns the URL of one of the tenant's endpoints: "authorize",
// "token" or "devicecode".
func (p *IdP) Endpoint(tenant, name string) string {
	return p.URL + "/" + tenant + "/oauth2/v2.0/" + name
}

// Tenant, ClientID and User return the options in effect.
func (p *IdP) Tenant() string   { return p.opts.Tenant }
func (p *IdP) ClientID() string { return p.opts.ClientID }
func (p *IdP) User() string     { return p.opts.User }

// IntrospectURL is the RFC 7662 endpoint (form post "token=…").
func (p *IdP) IntrospectURL() string { return p.URL + "/introspect" }

// FailNext makes the next request of kind fail with e: kind is a grant
// type ("refresh_token", "authorization_code", "client_credentials",
// "urn:ietf:params:oauth:grant-type:device_code") for the token endpoint,
// or "authorize" (the browser is sent back with the error) or
// "devicecode".
func (p *IdP) FailNext(kind string, e IdPError) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext[kind] = e
}

// Requests returns how many requests of kind (as for FailNext) arrived.
func (p *IdP) Requests(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[kind]
}

// RevokeRefreshTokens invalidates every refresh token, as a password
// change or an admin's revocation does.
func (p *IdP) RevokeRefreshTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.refresh)
}

// Introspect returns what an access token stands for, if it is live.
func (p *IdP) Introspect(token string) (IdPGrant, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	g, ok := p.access[token]
	if !ok || !p.opts.Clock.Now().Before(g.Expiry) {
		return IdPGrant{}, false
	}
	return g.IdPGrant, true
}

// CheckToken returns a token check for a test mail server: the token must
// be live and either act for user with the delegated permission (e.g.
// "IMAP.AccessAsUser.All") or be an app-only token with the matching
// application permission ("IMAP.AccessAsApp").
func (p *IdP) CheckToken(permission string) func(user, token string) bool {
	appRole := strings.TrimSuffix(permission, "AccessAsUser.All") + "AccessAsApp"
	return func(user, token string) bool {
		g, ok := p.Introspect(token)
		switch {
		case !ok:
			return false
		case g.User == "":
			return slices.Contains(g.Roles, appRole)
		default:
			return strings.EqualFold(g.User, user) && slices.Contains(g.Scopes, permission)
		}
	}
}

// ApproveDevice signs the IdP's user in on the device code with userCode,
// as the user does on the verification page.
func (p *IdP) ApproveDevice(userCode string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.devices {
		if d.userCode == userCode {
			d.approvedBy = p.opts.User
			return nil
		}
	}
	return fmt.Errorf("testmail: no device code with user code %q", userCode)
}

func (p *IdP) count(kind string) (IdPError, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests[kind]++
	e, ok := p.failNext[kind]
	delete(p.failNext, kind)
	return e, ok
}

func (p *IdP) knownTenant(tenant string, appOnly bool) bool {
	if strings.EqualFold(tenant, p.opts.Tenant) {
		return true
	}
	return !appOnly && (tenant == "common" || tenant == "organizations")
}

func (e IdPError) description() string {
	d, _, _ := e.traced()
	return d
}

// traced is e's description with the trace and correlation IDs it
// names, which Entra also sends as fields of its own.
func (e IdPError) traced() (description, traceID, correlationID string) {
	traceID, correlationID = randomGUID(), randomGUID()
	return fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
		e.AADSTS, e.Message, traceID, correlationID, time.Now().UTC().Format("2006-01-02 15:04:05Z")), traceID, correlationID
}

// writeError sends e as Entra's JSON error body.
func writeError(w http.ResponseWriter, e IdPError) {
	if e.Status == 0 {
		e.Status = http.StatusBadRequest
	}
	description, traceID, correlationID := e.traced()
	writeJSON(w, e.Status, map[string]any{
		"error":             e.Code,
		"error_description": description,
		"error_codes":       []int{e.AADSTS},
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          traceID,
		"correlation_id":    correlationID,
		"error_uri":         fmt.Sprintf("https://login.microsoftonline.com/error?code=%d", e.AADSTS),
	})
}

// randomGUID is a random ID in the form Entra's trace IDs take.
func randomGUID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (p *IdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fail, failing := p.count("authorize")
	tenant := r.PathValue("tenant")
	// Entra shows these on its own page: the redirect URI cannot be trusted.
	switch {
	case !p.knownTenant(tenant, false):
		http.Error(w, IdPError{AADSTS: 90002, Message: fmt.Sprintf("Tenant '%s' not found.", tenant)}.description(), http.StatusBadRequest)
		return
	case q.Get("client_id") != p.opts.ClientID:
		http.Error(w, IdPError{AADSTS: 700016, Message: fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", q.Get("client_id"), p.opts.Tenant)}.description(), http.StatusBadRequest)
		return
	case q.Get("redirect_uri") != p.opts.RedirectURL:
		http.Error(w, IdPError{AADSTS: 50011, Message: fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application.", q.Get("redirect_uri"))}.description(), http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := url.Values{"state": {q.Get("state")}}
	switch {
	case failing:
		v.Set("error", fail.Code)
		v.Set("error_description", fail.description())
	case q.Get("response_type") != "code":
		v.Set("error", "unsupported_response_type")
		v.Set("error_description", IdPError{AADSTS: 70005, Message: "response_type 'code' is required."}.description())
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		v.Set("error", "invalid_request")
		v.Set("error_description", IdPError{AADSTS: 9002325, Message: "Proof Key for Code Exchange is required."}.description())
	default:
		code := "M.C" + randomHex(24)
		p.mu.Lock()
		p.codes[code] = &idpCode{clientID: p.opts.ClientID, redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), user: p.opts.User, scopes: strings.Fields(q.Get("scope"))}
		p.mu.Unlock()
		v.Set("code", code)
	}
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *IdP) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, IdPError{Code: "invalid_request", AADSTS: 900144, Message: "The request body must contain the following parameter: 'grant_type'."})
		return
	}
	f := r.PostForm
	grant := f.Get("grant_type")
	if e, failing := p.count(grant); failing {
		writeError(w, e)
		return
	}
	appOnly := grant == "client_credentials"
	tenant := r.PathValue("tenant")
	switch {
	case !p.knownTenant(tenant, appOnly):
		writeError(w, IdPError{Code: "invalid_request", AADSTS: 90002, Message: fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant)})
		return
	case f.Get("client_id") != p.opts.ClientID:
		writeError(w, IdPError{Code: "unauthorized_client", AADSTS: 700016, Message: fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", f.Get("client_id"), p.opts.Tenant)})
		return
	case f.Has("client_secret") && f.Get("client_secret") != p.opts.ClientSecret:
		writeError(w, IdPError{Status: http.StatusUnauthorized, Code: "invalid_client", AADSTS: 7000215, Message: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID."})
		return
	case (appOnly || p.opts.WebPlatform) && !f.Has("client_secret") && !f.Has("client_assertion"):
		writeError(w, IdPError{Status: http.StatusUnauthorized, Code: "invalid_client", AADSTS: 7000218, Message: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."})
		return
	}
	if f.Has("client_assertion") || f.Has("client_assertion_type") {
		if e := p.checkAssertion(f, p.Endpoint(tenant, "token")); e != nil {
			writeError(w, *e)
			return
		}
	}
	switch grant {
	case "authorization_code":
		p.redeemCode(w, f)
	case "refresh_token":
		p.redeemRefresh(w, f)
	case "client_credentials":
		p.appToken(w, f)
	case "urn:ietf:params:oauth:grant-type:device_code":
		p.redeemDevice(w, f)
	default:
		writeError(w, IdPError{Code: "unsupported_grant_type", AADSTS: 70003, Message: fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant)})
	}
}

func (p *IdP) redeemCode(w http.ResponseWriter, f url.Values) {
	p.mu.Lock()
	c, ok := p.codes[f.Get("code")]
	delete(p.codes, f.Get("code")) // codes are single-use, even when refused
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	switch {
	case !ok:
		writeError(w, IdPError{Code: "invalid_grant", AADSTS: 70000, Message: "The provided value for the 'code' parameter is not valid."})
	case f.Get("redirect_uri") != c.redirect:
		writeError(w, IdPError{Code: "invalid_grant", AADSTS: 70000, Message: "The redirect_uri does not match the one of the authorization request."})
	case base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge:
		writeError(w, IdPError{Code: "invalid_grant", AADSTS: 501481, Message: "The Code_Verifier does not match the code_challenge supplied in the authorization request."})
	default:
		p.issue(w, c.user, c.clientID, c.scopes)
	}
}

func (p *IdP) redeemRefresh(w http.ResponseWriter, f url.Values) {
	rt := f.Get("refresh_token")
	p.mu.Lock()
	g, ok := p.refresh[rt]
	// Rotation: the old refresh token dies with this use.
	delete(p.refresh, rt)
	p.mu.Unlock()
	if !ok || g.clientID != f.Get("client_id") {
		writeError(w, IdPError{Code: "invalid_grant", AADSTS: 70008, Message: "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource."})
		return
	}
	scopes := g.scopes
	if requested := strings.Fields(f.Get("scope")); len(requested) > 0 {
		for _, s := range requested {
			if !slices.Contains(g.scopes, s) {
				writeError(w, IdPError{Code: "invalid_grant", AADSTS: 65001, Message: fmt.Sprintf("The user or administrator has not consented to use the application with ID '%s'. Send an interactive authorization request for this user and resource.", g.clientID)})
				return
			}
		}
		// offline_access and the OpenID scopes carry over.
		scopes = slices.DeleteFunc(slices.Clone(g.scopes), func(s string) bool {
			return resourceScope(s) && !slices.Contains(requested, s)
		})
	}
	p.issue(w, g.User, g.clientID, scopes)
}

func (p *IdP) appToken(w http.ResponseWriter, f url.Values) {
	scope := f.Get("scope")
	if !strings.HasSuffix(scope, "/.default") || strings.Contains(scope, " ") {
		writeError(w, IdPError{Code: "invalid_scope", AADSTS: 1002012, Message: fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", scope)})
		return
	}
	token := p.accessToken("", nil, p.opts.AppRoles)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":   "Bearer",
		"expires_in":   int(p.opts.AccessTTL.Seconds()),
		"access_token": token,
	})
}

func (p *IdP) deviceCode(w http.ResponseWriter, r *http.Request) {
	if e, failing := p.count("devicecode"); failing {
		writeError(w, e)
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, IdPError{Code: "invalid_request", AADSTS: 900144, Message: "The request body must contain the following parameter: 'client_id'."})
		return
	}
	tenant := r.PathValue("tenant")
	switch {
	case !p.knownTenant(tenant, false):
		writeError(w, IdPError{Code: "invalid_request", AADSTS: 90002, Message: fmt.Sprintf("Tenant '%s' not found.", tenant)})
		return
	case r.PostForm.Get("client_id") != p.opts.ClientID:
		writeError(w, IdPError{Code: "unauthorized_client", AADSTS: 700016, Message: fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'.", r.PostForm.Get("client_id"), p.opts.Tenant)})
		return
	}
	const lifetime = 15 * time.Minute
	d := &idpDevice{
		userCode: strings.ToUpper(randomHex(4)),
		clientID: p.opts.ClientID,
		scopes:   strings.Fields(r.PostForm.Get("scope")),
		expiry:   p.opts.Clock.Now().Add(lifetime),
		replies:  slices.Clone(p.opts.DeviceReplies),
	}
	deviceCode := "DAQABAAEAAA" + randomHex(24)
	p.mu.Lock()
	p.devices[deviceCode] = d
	p.mu.Unlock()
	verify := p.URL + "/devicelogin"
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":      deviceCode,
		"user_code":        d.userCode,
		"verification_uri": verify,
		"expires_in":       int(lifetime.Seconds()),
		"interval":         p.opts.DeviceInterval,
		"message":          fmt.Sprintf("To sign in, use a web browser to open the page %s and enter the code %s to authenticate.", verify, d.userCode),
	})
}

// deviceLogin is the verification page: GET ?code=USERCODE signs the
// IdP's user in on that code.
func (p *IdP) deviceLogin(w http.ResponseWriter, r *http.Request) {
	if err := p.ApproveDevice(r.URL.Query().Get("code")); err != nil {
		http.Error(w, "That code didn't work. Check the code and try again.", http.StatusBadRequest)
		return
	}
	fmt.Fprintln(w, "You have signed in to the mailtask application on your device. You may now close this window.")
}

func (p *IdP) redeemDevice(w http.ResponseWriter, f url.Values) {
	p.mu.Lock()
	d, ok := p.devices[f.Get("device_code")]
	var reply string
	switch {
	case !ok:
	case len(d.replies) > 0:
		reply, d.replies = d.replies[0], d.replies[1:]
	case !p.opts.Clock.Now().Before(d.expiry):
		delete(p.devices, f.Get("device_code"))
		reply = "expired_token"
	case d.approvedBy == "":
		reply = "authorization_pending"
	default:
		delete(p.devices, f.Get("device_code"))
	}
	p.mu.Unlock()
	switch {
	case !ok:
		writeError(w, IdPError{Code: "invalid_grant", AADSTS: 70000, Message: "The provided value for the input parameter 'device_code' is not valid."})
	case reply == "authorization_pending":
		writeError(w, IdPError{Code: reply, AADSTS: 70016, Message: "OAuth 2.0 device flow error. Authorization is pending. Continue polling."})
	case reply == "slow_down":
		writeError(w, IdPError{Code: reply, AADSTS: 70016, Message: "Polling too fast; slow down."})
	case reply == "expired_token":
		writeError(w, IdPError{Code: reply, AADSTS: 70020, Message: "The provided value for the input parameter 'device_code' is not valid. This device code has expired."})
	case reply != "":
		writeError(w, IdPError{Code: reply, AADSTS: 70000, Message: "Device flow error."})
	default:
		p.issue(w, d.approvedBy, d.clientID, d.scopes)
	}
}

// issue answers a delegated grant: an access token, a refresh token when
// offline_access was granted, and an ID token when openid was.
func (p *IdP) issue(w http.ResponseWriter, user, clientID string, scopes []string) {
	var perms []string
	for _, s := range scopes {
		if resourceScope(s) {
			perms = append(perms, s[strings.LastIndex(s, "/")+1:])
		}
	}
	resp := map[string]any{
		"token_type":   "Bearer",
		"scope":        strings.Join(scopes, " "),
		"expires_in":   int(p.opts.AccessTTL.Seconds()),
		"access_token": p.accessToken(user, perms, nil),
	}
	if slices.Contains(scopes, "offline_access") {
		rt := "1.AQ" + randomHex(32)
		p.mu.Lock()
		p.refresh[rt] = &idpGrant{IdPGrant: IdPGrant{User: user}, clientID: clientID, scopes: scopes}
		p.mu.Unlock()
		resp["refresh_token"] = rt
	}
	if slices.Contains(scopes, "openid") {
		resp["id_token"] = jwt(map[string]any{"aud": clientID, "tid": p.opts.Tenant, "preferred_username": user, "name": user})
	}
	writeJSON(w, http.StatusOK, resp)
}

func (p *IdP) accessToken(user string, scopes, roles []string) string {
	claims := map[string]any{"aud": "https://outlook.office.com", "tid": p.opts.Tenant, "jti": randomHex(8)}
	if user != "" {
		claims["upn"] = user
		claims["scp"] = strings.Join(scopes, " ")
	} else {
		claims["roles"] = roles
	}
	token := jwt(claims)
	p.mu.Lock()
	p.access[token] = &idpGrant{IdPGrant: IdPGrant{User: user, Scopes: scopes, Roles: roles, Expiry: p.opts.Clock.Now().Add(p.opts.AccessTTL)}}
	p.mu.Unlock()
	return token
}

// introspect is RFC 7662 as Dovecot's oauth2 passdb (introspection_mode =
// post) calls it.
func (p *IdP) introspect(w http.ResponseWriter, r *http.Request) {
	p.count("introspect")
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		return
	}
	g, ok := p.Introspect(r.PostForm.Get("token"))
	user := g.User
	if ok && user == "" { // app-only
		user = p.opts.AppMailbox
		ok = user != "" && len(g.Roles) > 0
	}
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"active":   true,
		"username": user,
		"scope":    strings.Join(g.Scopes, " "),
		"exp":      g.Expiry.Unix(),
	})
}

// resourceScope tells a resource's permission ("https://…/IMAP.…") from
// the OpenID and offline_access scopes.
func resourceScope(s string) bool { return strings.Contains(s, "/") }

// jwt builds an unsigned token shaped like Entra's, so that clients can
// read its claims as they do real ones.
func jwt(claims map[string]any) string {
	header, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "none"})
	payload, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc(header) + "." + enc(payload) + "." + enc([]byte(randomHex(16)))
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
