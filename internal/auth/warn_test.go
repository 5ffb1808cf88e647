package auth_test

import (
	"strings"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
)

func TestCredentialExpiryWarning(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.Local)
	account := func(expires string) *config.Account {
		a := &config.Account{Name: "m365", OAuth2: &config.OAuth2{ClientSecret: "x"}}
		if expires != "" {
			if err := a.OAuth2.ClientSecretExpires.UnmarshalTOML(expires); err != nil {
				t.Fatal(err)
			}
		}
		return a
	}
	for _, c := range []struct {
		expires, want string
	}{
		{"", ""},
		{"2025-09-01", ""},
		{"2025-07-02", ""},
		{"2025-06-30", "expires on 2025-06-30, in 29 days"},
		{"2025-06-02", "expires on 2025-06-02, in 1 day"},
		{"2025-05-31", "expired on 2025-05-31"},
	} {
		got := auth.CredentialExpiryWarning(account(c.expires), now)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("expires %q: %q, want %q", c.expires, got, c.want)
		}
		if got != "" && (!strings.Contains(got, `account "m365"`) || !strings.Contains(got, "Certificates & secrets")) {
			t.Errorf("warning %q does not say which account or what to do", got)
		}
	}
}

func TestRefreshAgeWarning(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	rec := func(provider string, age time.Duration) *auth.Record {
		r := &auth.Record{Account: "m365", Provider: provider, RefreshIssued: now.Add(-age)}
		r.RefreshToken = "x"
		return r
	}
	for _, c := range []struct {
		provider string
		age      time.Duration
		want     string
	}{
		{"microsoft", 59 * 24 * time.Hour, ""},
		{"microsoft", 61 * 24 * time.Hour, "not been used for 61 days; Microsoft drops it after 90 days"},
		{"microsoft", 95 * 24 * time.Hour, "has most likely expired"},
		{"google", 200 * 24 * time.Hour, ""},
	} {
		got := auth.RefreshAgeWarning(rec(c.provider, c.age), now)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s, %v: %q, want %q", c.provider, c.age, got, c.want)
		}
	}
	if auth.RefreshAgeWarning(nil, now) != "" {
		t.Error("a warning without a record")
	}
}
