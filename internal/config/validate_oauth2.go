package config

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Default scopes: what each provider's mail servers accept, per protocol
// and flow.
const (
	ScopeMicrosoftIMAP    = "https://outlook.office.com/IMAP.AccessAsUser.All"
	ScopeMicrosoftPOP     = "https://outlook.office.com/POP.AccessAsUser.All"
	ScopeMicrosoftAppOnly = "https://outlook.office365.com/.default"
	ScopeOfflineAccess    = "offline_access"
	ScopeGoogleMail       = "https://mail.google.com/"
)

// tenantPattern admits Microsoft's tenant forms: common, organizations,
// consumers, a domain or a GUID.
var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$`)

// genericTenants are the tenants that stand for "any directory"; app-only
// tokens need the one directory the app's permissions were granted in.
var genericTenants = []string{"common", "organizations", "consumers"}

func (a *Account) applyOAuth2Defaults() {
	o := a.OAuth2
	if o.Provider == "" {
		o.Provider = ProviderMicrosoft
	}
	if o.Flow == "" {
		o.Flow = FlowAuthorizationCode
	}
	if o.Provider == ProviderMicrosoft && o.Tenant == "" {
		o.Tenant = DefaultTenant
	}
	if o.RedirectURL == "" && o.Flow == FlowAuthorizationCode {
		o.RedirectURL = DefaultRedirectURL
		if o.Provider == ProviderGoogle {
			o.RedirectURL = DefaultGoogleRedirectURL
		}
	}
	if len(o.Scopes) == 0 {
		o.Scopes = defaultScopes(o.Provider, o.Flow, a.Protocol)
	}
}

func defaultScopes(provider, flow, protocol string) []string {
	switch {
	case provider == ProviderMicrosoft && flow == FlowClientCredentials:
		return []string{ScopeMicrosoftAppOnly}
	case provider == ProviderMicrosoft && protocol == ProtocolPOP3:
		return []string{ScopeMicrosoftPOP, ScopeOfflineAccess}
	case provider == ProviderMicrosoft:
		return []string{ScopeMicrosoftIMAP, ScopeOfflineAccess}
	case provider == ProviderGoogle:
		return []string{ScopeGoogleMail}
	}
	return nil // custom: the file must say
}

// validateOAuth2 checks the account's auth = "oauth2" settings, or that an
// [accounts.NAME.oauth2] table is not left over under another auth.
func (c *Config) validateOAuth2(at string, a *Account, base string, fail func(section, key, format string, args ...any)) {
	if a.Auth != AuthOAuth2 {
		if a.OAuth2 != nil {
			fail(at, "oauth2", "is only used with auth = \"oauth2\" (auth is %q)", a.Auth)
		}
		return
	}
	for _, p := range []struct {
		key string
		set bool
	}{{"password", a.Password != ""}, {"password_env", a.PasswordEnv != ""}, {"password_file", a.PasswordFile != ""}} {
		if p.set {
			fail(at, p.key, "is not used with auth = \"oauth2\"; remove it")
		}
	}
	if !taskNamePattern.MatchString(a.Name) {
		fail(at, "", "an OAuth2 account's name names its token file, so it may hold only letters, digits, '.', '_' and '-' and start with a letter or digit")
	}
	if a.OAuth2 == nil {
		fail(at, "oauth2", "missing: auth = \"oauth2\" needs an [accounts.%s.oauth2] table with at least client_id", a.Name)
		return
	}
	a.applyOAuth2Defaults()
	o := a.OAuth2
	key := func(k string) string { return "oauth2." + k }

	switch o.Provider {
	case ProviderMicrosoft, ProviderGoogle, ProviderCustom:
	default:
		fail(at, key("provider"), "%q is not one of microsoft, google, custom", o.Provider)
	}
	switch o.Flow {
	case FlowAuthorizationCode, FlowDeviceCode, FlowClientCredentials, FlowServiceAccount:
	default:
		fail(at, key("flow"), "%q is not one of authorization_code, device_code, client_credentials, service_account", o.Flow)
	}
	if o.Flow == FlowServiceAccount {
		c.validateServiceAccount(at, a, base, fail)
		return
	}
	if o.ServiceAccountKeyFile != "" {
		fail(at, key("service_account_key_file"), "is only used with flow = \"service_account\" (flow is %q)", o.Flow)
	}
	if o.ClientID == "" {
		fail(at, key("client_id"), "missing (the application (client) ID of the app registration)")
	}

	switch {
	case o.Provider != ProviderMicrosoft && o.Tenant != "":
		fail(at, key("tenant"), "is only used with provider = \"microsoft\"")
	case o.Provider == ProviderMicrosoft && !tenantPattern.MatchString(o.Tenant):
		fail(at, key("tenant"), "%q is not a tenant: use common, organizations, a domain such as contoso.onmicrosoft.com, or the directory (tenant) ID", o.Tenant)
	case o.Provider == ProviderMicrosoft && o.Flow == FlowClientCredentials && slices.Contains(genericTenants, strings.ToLower(o.Tenant)):
		fail(at, key("tenant"), "app-only tokens (client_credentials) need the app's own tenant, not %q: a domain such as contoso.onmicrosoft.com or the directory (tenant) ID", o.Tenant)
	}

	secrets := 0
	for _, set := range []bool{o.ClientSecret != "", o.ClientSecretEnv != "", o.ClientSecretFile != ""} {
		if set {
			secrets++
		}
	}
	switch {
	case secrets > 1:
		fail(at, key("client_secret"), "set only one of client_secret, client_secret_env, client_secret_file")
	case secrets > 0 && o.HasClientCertificate():
		fail(at, key("client_certificate_file"), "set either a client secret or a certificate, not both: the app signs in with one credential")
	case secrets == 0 && !o.HasClientCertificate() && o.Flow == FlowClientCredentials:
		fail(at, key("client_secret_env"), "client_credentials needs the app's credential: a certificate (client_certificate_file) or a client secret (client_secret_env, client_secret_file or client_secret)")
	case secrets == 0 && !o.ClientSecretExpires.IsZero():
		fail(at, key("client_secret_expires"), "is set but no client secret is (a certificate's expiry is read from the certificate)")
	}
	switch {
	case o.ClientKeyFile != "" && !o.HasClientCertificate():
		fail(at, key("client_key_file"), "is set but client_certificate_file is not: the key signs for a certificate, which client_certificate_file names")
	case o.HasClientCertificate() && o.Provider == ProviderGoogle:
		fail(at, key("client_certificate_file"), "Google's OAuth clients sign in with a client secret only")
	}
	if o.ClientSecretFile != "" {
		o.ClientSecretFile = resolve(base, o.ClientSecretFile)
	}
	if o.ClientCertificateFile != "" {
		o.ClientCertificateFile = resolve(base, o.ClientCertificateFile)
	}
	if o.ClientKeyFile != "" {
		o.ClientKeyFile = resolve(base, o.ClientKeyFile)
	}

	switch {
	case o.Flow == FlowAuthorizationCode:
		if msg := checkRedirectURL(o.RedirectURL); msg != "" {
			fail(at, key("redirect_url"), "%s", msg)
		}
	case o.RedirectURL != "":
		fail(at, key("redirect_url"), "is only used with flow = \"authorization_code\" (flow is %q)", o.Flow)
	}

	for _, e := range []struct{ key, value string }{{"token_url", o.TokenURL}, {"auth_url", o.AuthURL}, {"device_url", o.DeviceURL}} {
		if e.value == "" {
			continue
		}
		if msg := CheckEndpointURL(e.value); msg != "" {
			fail(at, key(e.key), "%s", msg)
		}
	}
	switch o.Provider {
	case ProviderCustom:
		if o.TokenURL == "" {
			fail(at, key("token_url"), "missing: provider = \"custom\" needs the token endpoint")
		}
		if o.Flow == FlowAuthorizationCode && o.AuthURL == "" {
			fail(at, key("auth_url"), "missing: provider = \"custom\" with flow = \"authorization_code\" needs the authorization endpoint")
		}
		if o.Flow == FlowDeviceCode && o.DeviceURL == "" {
			fail(at, key("device_url"), "missing: provider = \"custom\" with flow = \"device_code\" needs the device authorization endpoint")
		}
		if len(o.Scopes) == 0 {
			fail(at, key("scopes"), "missing: provider = \"custom\" has no default scopes")
		}
	case ProviderGoogle:
		switch o.Flow {
		case FlowDeviceCode:
			fail(at, key("flow"), "Google's device flow does not grant the Gmail scope; use \"authorization_code\" (on a machine without a browser, sign in through an SSH tunnel to redirect_url's port)")
		case FlowClientCredentials:
			fail(at, key("flow"), "Google has no client-credentials access to Gmail; use \"authorization_code\", or \"service_account\" for a Workspace service account with domain-wide delegation")
		}
	case ProviderMicrosoft:
		c.checkMicrosoftScopes(at, a, fail)
	}
}

// validateServiceAccount checks a Google service account's table
// (flow = "service_account"): the key file says who the app is and where
// its token endpoint is, so the settings of an app registration have no
// place beside it. The key file itself is read when a token is needed
// (package auth), and by `mailtask validate`.
func (c *Config) validateServiceAccount(at string, a *Account, base string, fail func(section, key, format string, args ...any)) {
	o := a.OAuth2
	key := func(k string) string { return "oauth2." + k }
	if o.Provider != ProviderGoogle {
		fail(at, key("flow"), "\"service_account\" is Google's (a Workspace service account with domain-wide delegation): set provider = \"google\"")
	}
	if o.ServiceAccountKeyFile == "" {
		fail(at, key("service_account_key_file"), "missing: flow = \"service_account\" needs the service account's JSON key file (Google Cloud console > IAM & Admin > Service accounts > the account > Keys > Add key > JSON)")
	} else {
		o.ServiceAccountKeyFile = resolve(base, o.ServiceAccountKeyFile)
	}
	for _, k := range []struct {
		key string
		set bool
	}{
		{"client_id", o.ClientID != ""}, {"client_secret", o.ClientSecret != ""}, {"client_secret_env", o.ClientSecretEnv != ""},
		{"client_secret_file", o.ClientSecretFile != ""}, {"client_secret_expires", !o.ClientSecretExpires.IsZero()},
		{"client_certificate_file", o.ClientCertificateFile != ""}, {"client_key_file", o.ClientKeyFile != ""},
		{"token_url", o.TokenURL != ""}, {"auth_url", o.AuthURL != ""}, {"device_url", o.DeviceURL != ""},
	} {
		if k.set {
			fail(at, key(k.key), "is not used with flow = \"service_account\": the service account's key file names its client ID and token endpoint, and its key signs every token request; remove it")
		}
	}
	if o.RedirectURL != "" {
		fail(at, key("redirect_url"), "is only used with flow = \"authorization_code\" (flow is %q)", o.Flow)
	}
}

// checkMicrosoftScopes catches the scope mistakes Microsoft answers only
// with a bare "AUTHENTICATE failed." at sign-in.
func (c *Config) checkMicrosoftScopes(at string, a *Account, fail func(section, key, format string, args ...any)) {
	o := a.OAuth2
	const key = "oauth2.scopes"
	for _, s := range o.Scopes {
		if strings.Contains(strings.ToLower(s), "graph.microsoft.com") {
			fail(at, key, "%q is a Microsoft Graph scope; IMAP and POP refuse Graph tokens. Use %q (IMAP) or %q (POP3), or %q for client_credentials", s, ScopeMicrosoftIMAP, ScopeMicrosoftPOP, ScopeMicrosoftAppOnly)
			return
		}
	}
	if o.Flow == FlowClientCredentials {
		for _, s := range o.Scopes {
			if !strings.HasSuffix(s, "/.default") {
				fail(at, key, "%q: app-only tokens (client_credentials) take only a resource's .default scope, %q", s, ScopeMicrosoftAppOnly)
				return
			}
		}
		return
	}
	if !slices.Contains(o.Scopes, ScopeOfflineAccess) {
		fail(at, key, "lacks %q: without it Microsoft issues no refresh token and every run would need a new sign-in", ScopeOfflineAccess)
	}
	want := ScopeMicrosoftIMAP
	if a.Protocol == ProtocolPOP3 {
		want = ScopeMicrosoftPOP
	}
	suffix := want[strings.LastIndex(want, "/")+1:]
	if !slices.ContainsFunc(o.Scopes, func(s string) bool { return strings.HasSuffix(strings.ToLower(s), strings.ToLower(suffix)) }) {
		fail(at, key, "lacks %q, which protocol = %q needs", want, a.Protocol)
	}
}

// checkRedirectURL returns what is wrong with u as the address
// `mailtask auth login` listens on, or "".
func checkRedirectURL(u string) string {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return err.Error()
	case p.Scheme != "http":
		return "must be an http:// URL on this machine (such as " + DefaultRedirectURL + "); mailtask listens on it for the browser's return"
	case !isLoopback(p.Hostname()):
		return "host " + p.Hostname() + " is not this machine: use localhost or 127.0.0.1, where mailtask can listen"
	case p.RawQuery != "" || p.Fragment != "":
		return "must not carry a query or fragment"
	}
	return ""
}

// CheckEndpointURL returns what is wrong with an identity endpoint, or "":
// one in the file, or the token_uri of a service account's key.
// Plain http is allowed only on loopback (a test or a local proxy), since
// secrets and tokens cross it.
func CheckEndpointURL(u string) string {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return err.Error()
	case p.Scheme == "https" && p.Host != "":
	case p.Scheme == "http" && isLoopback(p.Hostname()):
	default:
		return "must be an https:// URL (http:// only on loopback)"
	}
	return ""
}
