package config

import (
	"fmt"
	"os"
	"strings"
)

// Secret is a string that never prints itself: fmt, %v, %#v, JSON and slog
// all see "[redacted]". Use Reveal where the value is really needed.
type Secret string

const redacted = "[redacted]"

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// MarshalText keeps the value out of JSON and TOML dumps.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// UnmarshalText reads the value from the file.
func (s *Secret) UnmarshalText(text []byte) error {
	*s = Secret(text)
	return nil
}

// Reveal returns the value.
func (s Secret) Reveal() string { return string(s) }

// ResolvePassword reads the account's password from wherever the file says
// it is. Errors name the account and the key, never the value.
func (a *Account) ResolvePassword() (Secret, error) {
	switch {
	case a.PasswordEnv != "":
		v, ok := os.LookupEnv(a.PasswordEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("account %q: password_env: environment variable %s is not set", a.Name, a.PasswordEnv)
		}
		return Secret(v), nil
	case a.PasswordFile != "":
		b, err := os.ReadFile(a.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("account %q: password_file: %w", a.Name, err)
		}
		// A trailing newline is what editors and `echo` leave; no password ends in one.
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("account %q: password_file: %s is empty", a.Name, a.PasswordFile)
		}
		return Secret(v), nil
	default:
		return a.Password, nil
	}
}
