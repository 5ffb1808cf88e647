package config

import (
	"slices"
	"strings"
	"testing"
)

// serviceAccountConfig is a config whose account gsa opens a Workspace
// mailbox as a Google service account; table is the rest of its oauth2
// table.
func serviceAccountConfig(table string) string {
	return "[accounts.gsa]\nhost = \"imap.gmail.com\"\nusername = \"invoices@example.com\"\nauth = \"oauth2\"\n" +
		"[accounts.gsa.oauth2]\nprovider = \"google\"\nflow = \"service_account\"\n" + table +
		"\n[[task]]\nname = \"t\"\naccount = \"gsa\"\ndestination = \"/d\"\n"
}

func TestServiceAccountDefaults(t *testing.T) {
	cfg, err := Parse("/cfg/m.toml", []byte(serviceAccountConfig(`service_account_key_file = "keys/sa.json"`)))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Accounts["gsa"].OAuth2
	if o.ServiceAccountKeyFile != "/cfg/keys/sa.json" || !slices.Equal(o.Scopes, []string{ScopeGoogleMail}) || o.RedirectURL != "" || o.Delegated() {
		t.Errorf("got %+v, delegated %v", *o, o.Delegated())
	}
}

func TestServiceAccountErrors(t *testing.T) {
	for _, c := range []struct{ name, table, want string }{
		{"no key file", "", `account "gsa": oauth2.service_account_key_file: missing: flow = "service_account" needs the service account's JSON key file`},
		{"microsoft", "provider = \"microsoft\"\nservice_account_key_file = \"sa.json\"", `oauth2.flow: "service_account" is Google's`},
		{"client id", "service_account_key_file = \"sa.json\"\nclient_id = \"1234\"", `oauth2.client_id: is not used with flow = "service_account": the service account's key file names its client ID`},
		{"client secret", "service_account_key_file = \"sa.json\"\nclient_secret_env = \"S\"", `oauth2.client_secret_env: is not used with flow = "service_account"`},
		{"token url", "service_account_key_file = \"sa.json\"\ntoken_url = \"https://oauth2.googleapis.com/token\"", `oauth2.token_url: is not used with flow = "service_account"`},
		{"redirect", "service_account_key_file = \"sa.json\"\nredirect_url = \"http://127.0.0.1:9090/\"", `oauth2.redirect_url: is only used with flow = "authorization_code"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := serviceAccountConfig(c.table)
			if strings.HasPrefix(c.table, "provider") {
				file = strings.Replace(file, "provider = \"google\"\n", "", 1)
			}
			_, err := Parse("/cfg/m.toml", []byte(file))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v\nwant %q", err, c.want)
			}
		})
	}
	// The key file belongs to service accounts only.
	_, err := Parse("/cfg/m.toml", []byte(oauth2Config("", `service_account_key_file = "sa.json"`)))
	if err == nil || !strings.Contains(err.Error(), `oauth2.service_account_key_file: is only used with flow = "service_account"`) {
		t.Errorf("key file on a Microsoft account: %v", err)
	}
}
