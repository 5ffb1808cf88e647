package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// oauth2Config is a config with one OAuth2 account, whose table holds
// table and whose account holds account.
func oauth2Config(account, table string) string {
	return "[accounts.m365]\nhost = \"outlook.office365.com\"\nusername = \"invoices@contoso.com\"\nauth = \"oauth2\"\n" + account +
		"\n[accounts.m365.oauth2]\nclient_id = \"00000000-0000-0000-0000-00000000c11e\"\n" + table +
		"\n[[task]]\nname = \"t\"\naccount = \"m365\"\ndestination = \"/d\"\n"
}

func TestOAuth2Defaults(t *testing.T) {
	cases := []struct {
		name, account, table string
		want                 OAuth2
	}{
		{"microsoft IMAP delegated", "", "", OAuth2{Provider: ProviderMicrosoft, Flow: FlowAuthorizationCode, Tenant: "common", RedirectURL: DefaultRedirectURL,
			Scopes: []string{ScopeMicrosoftIMAP, ScopeOfflineAccess}}},
		{"microsoft POP3 device code", `protocol = "pop3"`, `flow = "device_code"`, OAuth2{Provider: ProviderMicrosoft, Flow: FlowDeviceCode, Tenant: "common",
			Scopes: []string{ScopeMicrosoftPOP, ScopeOfflineAccess}}},
		{"microsoft app-only", "", "flow = \"client_credentials\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_secret_env = \"S\"", OAuth2{Provider: ProviderMicrosoft, Flow: FlowClientCredentials, Tenant: "contoso.onmicrosoft.com", ClientSecretEnv: "S",
			Scopes: []string{ScopeMicrosoftAppOnly}}},
		{"microsoft app-only with a certificate", "", "flow = \"client_credentials\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_certificate_file = \"secrets/app.crt\"\nclient_key_file = \"/keys/app.key\"", OAuth2{Provider: ProviderMicrosoft, Flow: FlowClientCredentials, Tenant: "contoso.onmicrosoft.com",
			ClientCertificateFile: "/cfg/secrets/app.crt", ClientKeyFile: "/keys/app.key", Scopes: []string{ScopeMicrosoftAppOnly}}},
		{"google", `host = "imap.gmail.com"`, "provider = \"google\"\nclient_secret = \"x\"", OAuth2{Provider: ProviderGoogle, Flow: FlowAuthorizationCode, ClientSecret: "x", RedirectURL: DefaultGoogleRedirectURL,
			Scopes: []string{ScopeGoogleMail}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := oauth2Config(c.account, c.table)
			if strings.Contains(c.account, "host") { // the account's own host replaces the default one
				file = strings.Replace(file, "host = \"outlook.office365.com\"\n", "", 1)
			}
			cfg, err := Parse("/cfg/m.toml", []byte(file))
			if err != nil {
				t.Fatal(err)
			}
			got := *cfg.Accounts["m365"].OAuth2
			c.want.ClientID = "00000000-0000-0000-0000-00000000c11e"
			if got.Provider != c.want.Provider || got.Flow != c.want.Flow || got.Tenant != c.want.Tenant || got.RedirectURL != c.want.RedirectURL ||
				!slices.Equal(got.Scopes, c.want.Scopes) || got.ClientSecret != c.want.ClientSecret || got.ClientSecretEnv != c.want.ClientSecretEnv ||
				got.ClientCertificateFile != c.want.ClientCertificateFile || got.ClientKeyFile != c.want.ClientKeyFile {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestOAuth2Errors(t *testing.T) {
	cases := []struct {
		name, account, table string
		want                 string
	}{
		{"no table", "", "", ""}, // replaced below
		{"password with oauth2", `password = "x"`, "", `account "m365": password: is not used with auth = "oauth2"`},
		{"oauth2 table with password auth", "", "", ""},
		{"missing client_id", "", "", `oauth2.client_id: missing`},
		{"bad provider", "", `provider = "okta"`, `oauth2.provider: "okta" is not one of microsoft, google, custom`},
		{"bad flow", "", `flow = "password"`, `oauth2.flow: "password" is not one of`},
		{"bad tenant", "", `tenant = "contoso/evil"`, `oauth2.tenant: "contoso/evil" is not a tenant`},
		{"app-only on common", "", "flow = \"client_credentials\"\nclient_secret = \"s\"", `oauth2.tenant: app-only tokens (client_credentials) need the app's own tenant, not "common"`},
		{"app-only without secret", "", "flow = \"client_credentials\"\ntenant = \"contoso.onmicrosoft.com\"", `oauth2.client_secret_env: client_credentials needs the app's credential: a certificate (client_certificate_file) or a client secret`},
		{"secret and certificate", "", "flow = \"client_credentials\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_secret_env = \"S\"\nclient_certificate_file = \"app.pem\"", `oauth2.client_certificate_file: set either a client secret or a certificate, not both`},
		{"key without certificate", "", "flow = \"client_credentials\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_secret_env = \"S\"\nclient_key_file = \"app.key\"", `oauth2.client_key_file: is set but client_certificate_file is not`},
		{"secret expiry with certificate", "", "flow = \"client_credentials\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_certificate_file = \"app.pem\"\nclient_secret_expires = 2027-01-31", `oauth2.client_secret_expires: is set but no client secret is (a certificate's expiry is read from the certificate)`},
		{"google certificate", "", "provider = \"google\"\nclient_certificate_file = \"app.pem\"", `oauth2.client_certificate_file: Google's OAuth clients sign in with a client secret only`},
		{"two secrets", "", "client_secret = \"a\"\nclient_secret_env = \"B\"", `oauth2.client_secret: set only one of`},
		{"expiry without secret", "", "client_secret_expires = 2026-03-31", `oauth2.client_secret_expires: is set but no client secret is`},
		{"bad expiry", "", "client_secret = \"a\"\nclient_secret_expires = \"next year\"", `is not a date`},
		{"remote redirect", "", `redirect_url = "https://mailtask.contoso.com/cb"`, `oauth2.redirect_url: must be an http:// URL on this machine`},
		{"redirect on another host", "", `redirect_url = "http://mailtask.contoso.com/cb"`, `oauth2.redirect_url: host mailtask.contoso.com is not this machine`},
		{"redirect with device code", "", "flow = \"device_code\"\nredirect_url = \"http://localhost:1/\"", `oauth2.redirect_url: is only used with flow = "authorization_code"`},
		{"plain http token url", "", `token_url = "http://login.example.com/token"`, `oauth2.token_url: must be an https:// URL`},
		{"graph scope", "", `scopes = ["https://graph.microsoft.com/Mail.Read", "offline_access"]`, `is a Microsoft Graph scope; IMAP and POP refuse Graph tokens`},
		{"no offline_access", "", `scopes = ["https://outlook.office.com/IMAP.AccessAsUser.All"]`, `oauth2.scopes: lacks "offline_access"`},
		{"POP scope on IMAP", "", `scopes = ["https://outlook.office.com/POP.AccessAsUser.All", "offline_access"]`, `lacks "https://outlook.office.com/IMAP.AccessAsUser.All", which protocol = "imap" needs`},
		{"app-only with delegated scope", "", "flow = \"client_credentials\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_secret = \"s\"\nscopes = [\"https://outlook.office.com/IMAP.AccessAsUser.All\"]", `take only a resource's .default scope`},
		{"custom without endpoints", "", `provider = "custom"`, `oauth2.token_url: missing: provider = "custom" needs the token endpoint`},
		{"custom without scopes", "", "provider = \"custom\"\ntoken_url = \"https://idp.example.com/token\"\nauth_url = \"https://idp.example.com/auth\"", `oauth2.scopes: missing`},
		{"google device code", "", "provider = \"google\"\nflow = \"device_code\"", `Google's device flow does not grant the Gmail scope`},
		{"google app-only", "", "provider = \"google\"\nflow = \"client_credentials\"\nclient_secret = \"s\"", `Google has no client-credentials access to Gmail`},
		{"tenant for google", "", "provider = \"google\"\ntenant = \"x\"", `oauth2.tenant: is only used with provider = "microsoft"`},
		{"unknown oauth2 key", "", `client_secert = "x"`, `account "m365": oauth2.client_secert: unknown key`},
	}
	cases[0].name, cases[0].want = "no table", `oauth2: missing: auth = "oauth2" needs an [accounts.m365.oauth2] table`
	cases[2].want = `account "m365": oauth2: is only used with auth = "oauth2" (auth is "password")`
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := oauth2Config(c.account, c.table)
			switch i {
			case 0:
				file = strings.Replace(file, "\n[accounts.m365.oauth2]\nclient_id = \"00000000-0000-0000-0000-00000000c11e\"\n", "\n", 1)
			case 2:
				file = strings.Replace(file, `auth = "oauth2"`, "auth = \"password\"\npassword = \"p\"", 1)
			case 3:
				file = strings.Replace(file, `client_id = "00000000-0000-0000-0000-00000000c11e"`, "", 1)
			}
			_, err := Parse("/cfg/m.toml", []byte(file))
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\ndoes not contain %q", err, c.want)
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Errorf("error %T is not a *config.Error", err)
			}
		})
	}
}

func TestOAuth2AccountNameNamesAFile(t *testing.T) {
	file := strings.ReplaceAll(oauth2Config("", ""), "m365", "a b")
	file = strings.ReplaceAll(file, "[accounts.a b]", `[accounts."a b"]`)
	file = strings.ReplaceAll(file, "[accounts.a b.oauth2]", `[accounts."a b".oauth2]`)
	_, err := Parse("/cfg/m.toml", []byte(file))
	if err == nil || !strings.Contains(err.Error(), "names its token file") {
		t.Fatalf("got %v", err)
	}
}

func TestClientSecretSources(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if err := os.WriteFile(path, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MT_CLIENT_SECRET", "from-env")
	for _, c := range []struct {
		o    OAuth2
		want string
	}{
		{OAuth2{ClientSecret: "inline"}, "inline"},
		{OAuth2{ClientSecretEnv: "MT_CLIENT_SECRET"}, "from-env"},
		{OAuth2{ClientSecretFile: path}, "from-file"},
		{OAuth2{}, ""},
	} {
		a := &Account{Name: "a", OAuth2: &c.o}
		got, err := a.ResolveClientSecret()
		if err != nil || got.Reveal() != c.want {
			t.Errorf("%+v: got %q, %v", c.o, got.Reveal(), err)
		}
	}
	a := &Account{Name: "a", OAuth2: &OAuth2{ClientSecretEnv: "MT_UNSET_SECRET"}}
	if _, err := a.ResolveClientSecret(); err == nil || !strings.Contains(err.Error(), `account "a": oauth2.client_secret_env: environment variable MT_UNSET_SECRET is not set`) {
		t.Errorf("unset env: %v", err)
	}
}

func TestClientSecretExpiresIsADate(t *testing.T) {
	for _, v := range []string{"2026-03-31", `"2026-03-31"`} {
		cfg, err := Parse("/cfg/m.toml", []byte(oauth2Config("", "client_secret_env = \"S\"\nclient_secret_expires = "+v)))
		if err != nil {
			t.Fatal(err)
		}
		got := cfg.Accounts["m365"].OAuth2.ClientSecretExpires.In(time.UTC)
		if got.Format(time.DateOnly) != "2026-03-31" {
			t.Errorf("%s: read as %v", v, got)
		}
	}
}
