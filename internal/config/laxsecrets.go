package config

import (
	"fmt"
	"maps"
	"os"
	"slices"
)

// LaxSecrets lists, for `mailtask validate`, the secrets other local
// accounts can read: a password_file, client_secret_file, the file with
// a client certificate's private key, a service account's key, or one of
// cluster mode's files (the database URL with its password, the token
// keys, the S3 secret) readable by others or by a group other than this
// user's own, and an inline password, client_secret or state_store in a
// configuration file that is (the main file or an included one). A group
// of this user's own is the usual way to share them with a service account
// (contrib/systemd), and is not reported.
func (c *Config) LaxSecrets() []string {
	var warnings []string
	cl := &c.Cluster
	for _, f := range []struct{ key, path string }{
		{"state_store_file", cl.StateStoreFile}, {"token_key_file", cl.TokenKeyFile}, {"token_key_previous_file", cl.TokenKeyPreviousFile},
		{"s3_secret_access_key_file", cl.S3SecretAccessKeyFile},
	} {
		if f.path != "" {
			warnings = append(warnings, laxFile("", f.key, f.path)...)
		}
	}
	// The configuration files holding an inline secret: the main file for
	// state_store, an account's own file for its password or client secret.
	inline := map[string]bool{c.File: cl.StateStore != ""}
	for _, name := range slices.Sorted(maps.Keys(c.Accounts)) {
		a := c.Accounts[name]
		at := fmt.Sprintf("account %q", name)
		if a.PasswordFile != "" {
			warnings = append(warnings, laxFile(at, "password_file", a.PasswordFile)...)
		}
		file := c.DefinedIn(a.File)
		inline[file] = inline[file] || a.Password != ""
		if o := a.OAuth2; o != nil {
			if o.ClientSecretFile != "" {
				warnings = append(warnings, laxFile(at, "oauth2.client_secret_file", o.ClientSecretFile)...)
			}
			// The private key is in client_key_file when it is set, else
			// in client_certificate_file; a certificate alone is public.
			if o.ClientKeyFile != "" {
				warnings = append(warnings, laxFile(at, "oauth2.client_key_file", o.ClientKeyFile)...)
			} else if o.ClientCertificateFile != "" {
				warnings = append(warnings, laxFile(at, "oauth2.client_certificate_file", o.ClientCertificateFile)...)
			}
			if o.ServiceAccountKeyFile != "" {
				warnings = append(warnings, laxFile(at, "oauth2.service_account_key_file", o.ServiceAccountKeyFile)...)
			}
			inline[file] = inline[file] || o.ClientSecret != ""
		}
	}
	for _, file := range slices.Sorted(maps.Keys(inline)) {
		if !inline[file] {
			continue
		}
		if perm, lax := readableByOthers(file); lax {
			warnings = append(warnings, fmt.Sprintf("%s holds a password, client secret or database URL and is readable by other accounts (mode %04o): run \"chmod 600 %s\", or move the secret to password_env / password_file (state_store_env / state_store_file)", file, perm, file))
		}
	}
	return warnings
}

// laxFile warns of path, the file of key (in section at, "" for a
// top-level key), if others can read it.
func laxFile(at, key, path string) []string {
	perm, lax := readableByOthers(path)
	if !lax {
		return nil
	}
	if at != "" {
		key = at + ": " + key
	}
	return []string{fmt.Sprintf("%s: %s is readable by other accounts (mode %04o): run \"chmod 600 %s\" (or 640 with a group of the service's own)", key, path, perm, path)}
}

// readableByOthers reports whether accounts other than this user and its
// own group may read path; a file that cannot be looked at is reported
// where it is read.
func readableByOthers(path string) (os.FileMode, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	perm := fi.Mode().Perm()
	return perm, perm&0o004 != 0 || (perm&0o040 != 0 && !ownGroup(fi))
}
