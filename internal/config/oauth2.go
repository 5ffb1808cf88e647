package config

import (
	"fmt"
	"os"
	"strings"
)

// OAuth2 is an account's [accounts.NAME.oauth2] table: where its tokens
// come from when auth = "oauth2".
type OAuth2 struct {
	// Provider selects the endpoint and scope presets: microsoft, google or
	// custom.
	Provider string `toml:"provider"`
	// Flow is how tokens are obtained: authorization_code (a one-time
	// browser sign-in with `mailtask auth login`), device_code (the same on
	// a machine without a browser), client_credentials (app-only, no
	// sign-in) or service_account (Google: a service account with
	// domain-wide delegation acting as the account's username).
	Flow string `toml:"flow"`
	// Tenant is the Microsoft directory: common, organizations, consumers,
	// a domain or a GUID.
	Tenant   string `toml:"tenant"`
	ClientID string `toml:"client_id"`
	// The client secret: at most one of the three, and none with a
	// certificate. Public clients (most delegated setups) have none.
	ClientSecret     Secret `toml:"client_secret"`
	ClientSecretEnv  string `toml:"client_secret_env"`
	ClientSecretFile string `toml:"client_secret_file"`
	// ClientSecretExpires is when the secret stops working (a date is
	// read in the machine's zone); mailtask warns 30 days ahead.
	ClientSecretExpires Date `toml:"client_secret_expires"`
	// ClientCertificateFile is a PEM file holding the certificate the app
	// registration knows and, unless ClientKeyFile names another file,
	// its private key: the app then signs in with a client assertion
	// signed by the key (package auth) in place of a secret. Both files
	// are read each time a token is fetched, so a rotated certificate
	// needs no restart.
	ClientCertificateFile string `toml:"client_certificate_file"`
	ClientKeyFile         string `toml:"client_key_file"`
	// ServiceAccountKeyFile is the JSON key of a Google service account
	// (flow = "service_account"), as the Cloud console downloads it: it
	// names the account, its client ID and token endpoint, and holds the
	// private key that signs each token request. It is read each time a
	// token is fetched, so a rotated key needs no restart.
	ServiceAccountKeyFile string `toml:"service_account_key_file"`
	// RedirectURL is where `mailtask auth login` listens for the browser;
	// it must be registered with the app exactly.
	RedirectURL string   `toml:"redirect_url"`
	Scopes      []string `toml:"scopes"`
	// Endpoints; the provider's are used when empty (custom needs them;
	// for Microsoft they serve national clouds).
	TokenURL  string `toml:"token_url"`
	AuthURL   string `toml:"auth_url"`
	DeviceURL string `toml:"device_url"`
}

// Auth modes, providers and flows accepted in the file.
const (
	AuthOAuth2 = "oauth2"

	ProviderMicrosoft = "microsoft"
	ProviderGoogle    = "google"
	ProviderCustom    = "custom"

	FlowAuthorizationCode = "authorization_code"
	FlowDeviceCode        = "device_code"
	FlowClientCredentials = "client_credentials"
	FlowServiceAccount    = "service_account"
)

// Defaults for the oauth2 table.
const (
	DefaultTenant = "common"
	// DefaultRedirectURL is the one administrators already registered for
	// CrushFTP's Microsoft 365 integration, so the same app registration
	// works unchanged.
	DefaultRedirectURL = "http://localhost:9090/register_microsoft_graph_api/"
	// DefaultGoogleRedirectURL is a loopback address, which Google accepts
	// for desktop clients on any port without registration.
	DefaultGoogleRedirectURL = "http://127.0.0.1:9090/"
)

// Delegated reports whether tokens act for a signed-in user (and so need
// `mailtask auth login` once), as opposed to the app itself or a service
// account acting for the user without a sign-in.
func (o *OAuth2) Delegated() bool {
	return o.Flow != FlowClientCredentials && o.Flow != FlowServiceAccount
}

// HasClientSecret reports whether the file names a client secret.
func (o *OAuth2) HasClientSecret() bool {
	return o.ClientSecret != "" || o.ClientSecretEnv != "" || o.ClientSecretFile != ""
}

// HasClientCertificate reports whether the app signs in with a
// certificate.
func (o *OAuth2) HasClientCertificate() bool { return o.ClientCertificateFile != "" }

// ResolveClientSecret reads the client secret from wherever the file says
// it is; "" for a public client. Errors name the account and the key,
// never the value.
func (a *Account) ResolveClientSecret() (Secret, error) {
	o := a.OAuth2
	switch {
	case o == nil:
		return "", nil
	case o.ClientSecretEnv != "":
		v, ok := os.LookupEnv(o.ClientSecretEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("account %q: oauth2.client_secret_env: environment variable %s is not set", a.Name, o.ClientSecretEnv)
		}
		return Secret(v), nil
	case o.ClientSecretFile != "":
		b, err := os.ReadFile(o.ClientSecretFile)
		if err != nil {
			return "", fmt.Errorf("account %q: oauth2.client_secret_file: %w", a.Name, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("account %q: oauth2.client_secret_file: %s is empty", a.Name, o.ClientSecretFile)
		}
		return Secret(v), nil
	default:
		return o.ClientSecret, nil
	}
}
