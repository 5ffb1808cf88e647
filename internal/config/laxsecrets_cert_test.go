//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLaxSecretsCoverCertificateKeys warns of the file that holds a client
// certificate's private key, and not of a certificate file without one.
func TestLaxSecretsCoverCertificateKeys(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"app.pem", "app.crt", "app.key"} {
		write(t, filepath.Join(dir, name), "pem\n")
		if err := os.Chmod(filepath.Join(dir, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	account := func() *Config {
		return &Config{File: filepath.Join(dir, "mailtask.toml"), Accounts: map[string]*Account{"app": {Name: "app", OAuth2: &OAuth2{}}}}
	}
	one := account()
	one.Accounts["app"].OAuth2.ClientCertificateFile = filepath.Join(dir, "app.pem")
	if got := strings.Join(one.LaxSecrets(), "\n"); !strings.Contains(got, `account "app": oauth2.client_certificate_file: `+filepath.Join(dir, "app.pem")+" is readable by other accounts") {
		t.Errorf("certificate and key in one file others read: %q", got)
	}
	split := account()
	split.Accounts["app"].OAuth2.ClientCertificateFile = filepath.Join(dir, "app.crt")
	split.Accounts["app"].OAuth2.ClientKeyFile = filepath.Join(dir, "app.key")
	got := strings.Join(split.LaxSecrets(), "\n")
	if !strings.Contains(got, `oauth2.client_key_file: `+filepath.Join(dir, "app.key")) || strings.Contains(got, "app.crt") {
		t.Errorf("a key file of its own: want it warned of and the certificate not: %q", got)
	}
}

// TestLaxSecretsCoverServiceAccountKeys warns of a service account's key
// file that others can read.
func TestLaxSecretsCoverServiceAccountKeys(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "sa.json")
	write(t, key, "{}\n")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{File: filepath.Join(dir, "mailtask.toml"), Accounts: map[string]*Account{"gsa": {Name: "gsa", OAuth2: &OAuth2{ServiceAccountKeyFile: key}}}}
	if got := strings.Join(cfg.LaxSecrets(), "\n"); !strings.Contains(got, `account "gsa": oauth2.service_account_key_file: `+key+" is readable by other accounts") {
		t.Errorf("a key file others read: %q", got)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := cfg.LaxSecrets(); len(got) != 0 {
		t.Errorf("a key file of this user's alone: %q", got)
	}
}
