package config

import (
	"errors"
	"strings"
	"testing"
)

// A database URL pgx cannot parse is the configuration's fault: the error
// names the setting, says to percent-encode, and shows no password; one
// that pgx parses (a '#' in the password) is taken as it is.
func TestStateStoreURLThatDoesNotParse(t *testing.T) {
	cfg := &Config{File: "/etc/mailtask/mailtask.toml", Cluster: Cluster{StateStoreEnv: "DB"}}
	for _, bad := range []string{
		"postgres://mailtask:pa/ss-w0rd@db:5432/mailtask",
		"postgres://mailtask:pa%zzss-w0rd@db:5432/mailtask",
		"postgres://mailtask:pass-w0rd@db:port/mailtask",
	} {
		t.Setenv("DB", bad)
		_, err := cfg.StateStoreURL()
		var ce *Error
		if !errors.As(err, &ce) || ce.File != cfg.File || !strings.Contains(err.Error(), "state_store_env DB") || !strings.Contains(err.Error(), "percent-encode") {
			t.Errorf("%s: %v, want a configuration error naming state_store_env DB", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "w0rd") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	t.Setenv("DB", "postgres://mailtask:pa#ss@db:5432/mailtask")
	if _, err := cfg.StateStoreURL(); err != nil {
		t.Errorf("a URL pgx parses: %v", err)
	}
}
