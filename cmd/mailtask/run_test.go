package main

import (
	"fmt"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
)

// The metrics report each OAuth2 account's client secret expiry, as the
// file declares it, and a Microsoft refresh token's lapse, 90 days after
// the token store last received one.
func TestCredentialsReportExpiries(t *testing.T) {
	stateDir := t.TempDir()
	cfg, err := config.Parse("/cfg/m.toml", fmt.Appendf(nil, `
state_dir = %q
[accounts.app]
host = "outlook.office365.com"
username = "invoices@contoso.com"
auth = "oauth2"
[accounts.app.oauth2]
client_id = "00000000-0000-0000-0000-00000000c11e"
flow = "client_credentials"
tenant = "contoso.onmicrosoft.com"
client_secret_env = "S"
client_secret_expires = 2026-03-31
[accounts.delegated]
host = "outlook.office365.com"
username = "scans@contoso.com"
auth = "oauth2"
[accounts.delegated.oauth2]
client_id = "00000000-0000-0000-0000-00000000c11e"
flow = "device_code"
tenant = "contoso.onmicrosoft.com"
[accounts.plain]
host = "outlook.office365.com"
username = "u"
password_env = "P"
[[task]]
name = "t"
account = "app"
destination = "/d"
`, stateDir))
	if err != nil {
		t.Fatal(err)
	}
	if got := credentials(cfg, auth.Store{Dir: auth.StoreDir(stateDir)}); len(got) != 1 || got[0].Account != "app" || got[0].Kind != "client_secret" || got[0].Expires.Format(time.DateOnly) != "2026-03-31" {
		t.Errorf("credentials without a token record = %+v", got)
	}

	issued := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	rec := &auth.Record{Account: "delegated", Provider: config.ProviderMicrosoft, Flow: config.FlowDeviceCode, RefreshToken: "rt", RefreshIssued: issued}
	if err := (auth.Store{Dir: auth.StoreDir(stateDir)}).Save(rec); err != nil {
		t.Fatal(err)
	}
	got := credentials(cfg, auth.Store{Dir: auth.StoreDir(stateDir)})
	if len(got) != 2 || got[1].Account != "delegated" || got[1].Kind != "refresh_token" || !got[1].Expires.Equal(issued.Add(90*24*time.Hour)) {
		t.Errorf("credentials = %+v, want the client secret and the delegated account's refresh token lapsing on %s", got, issued.Add(90*24*time.Hour))
	}
}
