package main

import (
	"testing"
	"time"

	"mailtask/internal/config"
)

func TestCredentialsReportClientSecretExpiry(t *testing.T) {
	cfg, err := config.Parse("/cfg/m.toml", []byte(`
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
[accounts.plain]
host = "outlook.office365.com"
username = "u"
password_env = "P"
[[task]]
name = "t"
account = "app"
destination = "/d"
`))
	if err != nil {
		t.Fatal(err)
	}
	got := credentials(cfg)
	if len(got) != 1 || got[0].Account != "app" || got[0].Kind != "client_secret" || got[0].Expires.Format(time.DateOnly) != "2026-03-31" {
		t.Errorf("credentials = %+v", got)
	}
}
