//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Cluster mode's secrets are files too: the database URL holds its
// password, the token key opens every stored OAuth2 token, the S3 secret
// writes the bucket. validate warns of each that others can read, and of
// an inline state_store in a configuration file they can read.
func TestLaxSecretsCoverClusterFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for _, key := range []string{"state_store_file", "token_key_file", "token_key_previous_file", "s3_secret_access_key_file"} {
		p := filepath.Join(dir, key)
		write(t, p, "secret\n")
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
		files[key] = p
	}
	conf := filepath.Join(dir, "mailtask.toml")
	write(t, conf, "")
	if err := os.Chmod(conf, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{File: conf, Cluster: Cluster{
		StateStoreFile: files["state_store_file"], TokenKeyFile: files["token_key_file"], TokenKeyPreviousFile: files["token_key_previous_file"], S3SecretAccessKeyFile: files["s3_secret_access_key_file"],
	}}
	got := strings.Join(cfg.LaxSecrets(), "\n")
	for key, p := range files {
		if want := key + ": " + p + " is readable by other accounts (mode 0644)"; !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, conf) {
		t.Errorf("a configuration without inline secrets was warned of:\n%s", got)
	}
	inline := &Config{File: conf, Cluster: Cluster{StateStore: "postgres://u:pw@db/m"}}
	if got := strings.Join(inline.LaxSecrets(), "\n"); !strings.Contains(got, conf+" holds a password, client secret or database URL") {
		t.Errorf("an inline state_store in a file others read: %q", got)
	}
	for _, p := range files {
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if got := cfg.LaxSecrets(); len(got) != 0 {
		t.Errorf("0600 files were warned of: %q", got)
	}
}
