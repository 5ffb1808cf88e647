package config

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/pathtmpl"
	"mailtask/internal/s3url"
)

// Cluster holds the top-level keys of cluster mode: where the state lives
// when it is shared by several nodes, the key OAuth2 tokens are sealed
// with there, and how to reach the object store of s3:// destinations.
type Cluster struct {
	// StateStore is "" for the file store under state_dir (the default),
	// or a postgres:// URL; the URL carries a password, so
	// StateStoreEnv or StateStoreFile usually name it instead.
	StateStore     Secret `toml:"state_store"`
	StateStoreEnv  string `toml:"state_store_env"`
	StateStoreFile string `toml:"state_store_file"`
	// TokenKeyEnv or TokenKeyFile holds the base64 of 32 random bytes
	// (`openssl rand -base64 32`) that seals OAuth2 tokens in the database.
	TokenKeyEnv  string `toml:"token_key_env"`
	TokenKeyFile string `toml:"token_key_file"`
	// TokenKeyPreviousEnv or TokenKeyPreviousFile holds, during a
	// rotation of the token key, the key being retired: tokens sealed
	// with it still open, and are sealed anew with the current key. One
	// is enough: `mailtask db reseal-tokens` moves every token to the
	// current key in minutes, so a rotation is over before the next
	// begins.
	TokenKeyPreviousEnv  string `toml:"token_key_previous_env"`
	TokenKeyPreviousFile string `toml:"token_key_previous_file"`
	// The object store of s3:// destinations. Left out, the standard AWS
	// environment and files apply (AWS_REGION, AWS_ACCESS_KEY_ID,
	// AWS_ENDPOINT_URL_S3, ...).
	S3Endpoint            string `toml:"s3_endpoint"`
	S3Region              string `toml:"s3_region"`
	S3PathStyle           *bool  `toml:"s3_path_style"`
	S3AccessKeyIDEnv      string `toml:"s3_access_key_id_env"`
	S3AccessKeyIDFile     string `toml:"s3_access_key_id_file"`
	S3SecretAccessKeyEnv  string `toml:"s3_secret_access_key_env"`
	S3SecretAccessKeyFile string `toml:"s3_secret_access_key_file"`
	// S3CreateOnly is what to do with a store that ignores the
	// create-only condition of a put (If-None-Match: *), or refuses it:
	// "" or S3CreateOnlyRequire, refuse to write there;
	// S3CreateOnlyCheckFirst, look at each key before writing it.
	S3CreateOnly string `toml:"s3_create_only"`
	// Lease is how long a node holds a task (and a connection slot)
	// without renewing it: it renews every third of it, and a node that
	// stops for longer loses the task to another. Zero means DefaultLease.
	Lease Duration `toml:"lease"`
}

// Bounds and default of lease: long enough for a renewal to survive a
// slow database, short enough that a dead node's tasks move on soon.
const (
	DefaultLease = time.Minute
	MinLease     = 3 * time.Second
	MaxLease     = time.Hour
)

// The values of s3_create_only.
const (
	S3CreateOnlyRequire    = "require"
	S3CreateOnlyCheckFirst = "check_first"
)

// LeaseTime is the lease setting, or its default.
func (c *Cluster) LeaseTime() time.Duration {
	if c.Lease == 0 {
		return DefaultLease
	}
	return c.Lease.Std()
}

// TokenKeySize is the size of the token key once decoded.
const TokenKeySize = 32

// SharedState reports whether the state lives in a database (state_store
// is set one way or another) rather than under state_dir.
func (c *Cluster) SharedState() bool {
	return c.StateStore != "" || c.StateStoreEnv != "" || c.StateStoreFile != ""
}

// ResolveStateStore reads the database URL from wherever the file says it
// is. Errors name the key, never the value.
func (c *Cluster) ResolveStateStore() (Secret, error) {
	v, key, err := resolveRef(c.StateStore, "state_store", c.StateStoreEnv, c.StateStoreFile)
	if err != nil {
		return "", err
	}
	if !isPostgresURL(v.Reveal()) {
		return "", fmt.Errorf("%s: not a postgres:// URL (postgres://USER:PASSWORD@HOST:5432/DATABASE)", key)
	}
	// pgx's own parser, which takes more than net/url does (a password
	// holding '#' or '?'); its error quotes the URL, password and all.
	if _, err := pgx.ParseConfig(v.Reveal()); err != nil {
		return "", fmt.Errorf("%s: the URL does not parse: percent-encode the characters of the user name and password other than letters, digits and - . _ ~ (p/ss becomes p%%2Fss, p%%ss p%%25ss), and check its port and parameters (sslmode=disable, require, verify-full ...)", key)
	}
	return v, nil
}

// StateStoreURL is ResolveStateStore with the file and key to fix named,
// as a configuration error.
func (c *Config) StateStoreURL() (Secret, error) {
	v, err := c.ResolveStateStore()
	if err != nil {
		return "", &Error{File: c.File, Key: "state_store", Msg: err.Error()}
	}
	return v, nil
}

// TokenKeySetting names where the token key comes from, for messages:
// "token_key_env NAME" or "token_key_file PATH"; "" if nowhere.
func (c *Cluster) TokenKeySetting() string {
	return refSetting("token_key", c.TokenKeyEnv, c.TokenKeyFile)
}

// TokenKeyPreviousSetting is TokenKeySetting for the previous key.
func (c *Cluster) TokenKeyPreviousSetting() string {
	return refSetting("token_key_previous", c.TokenKeyPreviousEnv, c.TokenKeyPreviousFile)
}

func refSetting(key, env, file string) string {
	switch {
	case env != "":
		return key + "_env " + env
	case file != "":
		return key + "_file " + file
	}
	return ""
}

// TokenKeys are the token keys, decoded: exactly TokenKeySize bytes
// each, or nil when not configured.
type TokenKeys struct {
	Current, Previous []byte
}

// ResolveTokenKeys reads and decodes the token key and the previous one.
// Errors name the setting, never the key.
func (c *Cluster) ResolveTokenKeys() (TokenKeys, error) {
	return c.readTokenKeys(func(err error) error { return err })
}

// CheckTokenKeys is ResolveTokenKeys for `mailtask validate`, which may
// run where the keys are not given (a CI job, an administrator's
// machine): a key it cannot read is a warning, a bad one an error.
func (c *Cluster) CheckTokenKeys() (warnings []string, err error) {
	_, err = c.readTokenKeys(func(err error) error {
		warnings = append(warnings, err.Error()+": its value is not checked here")
		return nil
	})
	return warnings, err
}

// readTokenKeys decodes the keys given; unreadable decides what a key
// that cannot be read is: its error, or nil to go on without it.
func (c *Cluster) readTokenKeys(unreadable func(error) error) (TokenKeys, error) {
	var keys TokenKeys
	for _, k := range c.tokenKeyRefs(&keys) {
		if k.setting == "" {
			continue
		}
		text, _, err := resolveRef("", k.key, k.env, k.file)
		if err != nil {
			if err := unreadable(err); err != nil {
				return TokenKeys{}, err
			}
			continue
		}
		if *k.dst, err = decodeTokenKey(text, k.setting); err != nil {
			return TokenKeys{}, err
		}
	}
	return keys, c.sameTokenKeys(keys)
}

type tokenKeyRef struct {
	key, env, file, setting string
	dst                     *[]byte
}

func (c *Cluster) tokenKeyRefs(keys *TokenKeys) []tokenKeyRef {
	return []tokenKeyRef{
		{"token_key", c.TokenKeyEnv, c.TokenKeyFile, c.TokenKeySetting(), &keys.Current},
		{"token_key_previous", c.TokenKeyPreviousEnv, c.TokenKeyPreviousFile, c.TokenKeyPreviousSetting(), &keys.Previous},
	}
}

func decodeTokenKey(text Secret, setting string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text.Reveal()))
	if err != nil {
		return nil, fmt.Errorf("%s: the token key is not base64; make one with `openssl rand -base64 32`", setting)
	}
	if len(key) != TokenKeySize {
		return nil, fmt.Errorf("%s: the token key is %d bytes once decoded, it must be %d; make one with `openssl rand -base64 32`", setting, len(key), TokenKeySize)
	}
	return key, nil
}

func (c *Cluster) sameTokenKeys(keys TokenKeys) error {
	if keys.Previous != nil && bytes.Equal(keys.Current, keys.Previous) {
		return fmt.Errorf("%s: the previous token key is the current one (%s): give the new key as the token key and the one being retired as the previous", c.TokenKeyPreviousSetting(), c.TokenKeySetting())
	}
	return nil
}

// ResolveS3Credentials reads the object store's keys; both are "" when
// the configuration leaves them to the standard AWS chain.
func (c *Cluster) ResolveS3Credentials() (id, secret Secret, err error) {
	if c.S3AccessKeyIDEnv == "" && c.S3AccessKeyIDFile == "" {
		return "", "", nil
	}
	if id, _, err = resolveRef("", "s3_access_key_id", c.S3AccessKeyIDEnv, c.S3AccessKeyIDFile); err != nil {
		return "", "", err
	}
	if secret, _, err = resolveRef("", "s3_secret_access_key", c.S3SecretAccessKeyEnv, c.S3SecretAccessKeyFile); err != nil {
		return "", "", err
	}
	return id, secret, nil
}

// resolveRef reads a value given inline (under key), by environment
// variable (key_env) or by file (key_file), and returns it with the
// setting it came from. A file's trailing newline is dropped.
func resolveRef(inline Secret, key, env, file string) (Secret, string, error) {
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", "", fmt.Errorf("%s_env: environment variable %s is not set", key, env)
		}
		return Secret(v), key + "_env " + env, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", "", fmt.Errorf("%s_file: %w", key, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", "", fmt.Errorf("%s_file: %s is empty", key, file)
		}
		return Secret(v), key + "_file " + file, nil
	default:
		return inline, key, nil
	}
}

func isPostgresURL(v string) bool {
	return strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://")
}

// countSet is how many of the settings are set.
func countSet(set ...bool) int {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	return n
}

// validateCluster checks the cluster keys and the tasks' s3://
// destinations, and makes the files they name absolute.
func (c *Config) validateCluster(base string, fail func(section, key, format string, args ...any)) {
	cl := &c.Cluster
	switch {
	case countSet(cl.StateStore != "", cl.StateStoreEnv != "", cl.StateStoreFile != "") > 1:
		fail("", "state_store", "set only one of state_store, state_store_env, state_store_file")
	case cl.StateStore != "" && !isPostgresURL(cl.StateStore.Reveal()):
		fail("", "state_store", "not a postgres:// URL (postgres://USER:PASSWORD@HOST:5432/DATABASE); leave it out for the file store under state_dir")
	}
	cl.StateStoreFile = resolveIfSet(base, cl.StateStoreFile)
	switch {
	case cl.Lease != 0 && !cl.SharedState():
		fail("", "lease", "is only used with state_store: the file store's runs hold a lock file, not a lease")
	case cl.Lease != 0:
		checkDuration(fail, "", "lease", cl.Lease.Std(), MinLease, MaxLease, "")
	}

	tokenKey := cl.TokenKeyEnv != "" || cl.TokenKeyFile != ""
	switch {
	case cl.TokenKeyEnv != "" && cl.TokenKeyFile != "":
		fail("", "token_key_env", "set only one of token_key_env, token_key_file")
	case tokenKey && !cl.SharedState():
		fail("", keyOf(cl.TokenKeyEnv != "", "token_key_env", "token_key_file"), "is only used with state_store (the database keeps OAuth2 tokens sealed with it); the file store keeps them in state_dir, readable by its owner only")
	case !tokenKey && cl.SharedState() && c.hasOAuth2():
		fail("", "token_key_env", "state_store keeps OAuth2 tokens in the database, sealed with a key: set token_key_env or token_key_file to the base64 of 32 random bytes (openssl rand -base64 32)")
	}
	cl.TokenKeyFile = resolveIfSet(base, cl.TokenKeyFile)
	switch {
	case cl.TokenKeyPreviousEnv != "" && cl.TokenKeyPreviousFile != "":
		fail("", "token_key_previous_env", "set only one of token_key_previous_env, token_key_previous_file")
	case cl.TokenKeyPreviousEnv == "" && cl.TokenKeyPreviousFile == "":
	case !tokenKey:
		fail("", keyOf(cl.TokenKeyPreviousEnv != "", "token_key_previous_env", "token_key_previous_file"), "is the key being retired, which only opens tokens sealed before: set token_key_env or token_key_file to the new key as well")
	case cl.TokenKeyPreviousEnv != "" && cl.TokenKeyPreviousEnv == cl.TokenKeyEnv:
		fail("", "token_key_previous_env", "names %s, as token_key_env does: the previous key is the one being retired, in a variable of its own", cl.TokenKeyEnv)
	case cl.TokenKeyPreviousFile != "" && resolve(base, cl.TokenKeyPreviousFile) == cl.TokenKeyFile:
		fail("", "token_key_previous_file", "names %s, as token_key_file does: the previous key is the one being retired, in a file of its own", cl.TokenKeyFile)
	}
	cl.TokenKeyPreviousFile = resolveIfSet(base, cl.TokenKeyPreviousFile)

	anyS3 := false
	for i, t := range c.Tasks {
		if !s3url.Is(t.Destination) {
			continue
		}
		anyS3 = true
		at := taskLabel(i, t.Name)
		root, _ := pathtmpl.SplitRoot(t.Destination)
		bucket, _, _ := strings.Cut(strings.TrimPrefix(t.Destination, s3url.Scheme), "/")
		if strings.Contains(bucket, "{") {
			fail(at, "destination", "%q: the bucket may not hold a variable: name it, and put variables after it (s3://bucket/{from_domain}/...)", t.Destination)
		} else if _, _, err := s3url.Parse(root); err != nil {
			fail(at, "destination", "%v (variables may follow the bucket and prefix, not stand in them)", err)
		}
		if t.Output.Dedupe == DedupeSHA256 && !cl.SharedState() {
			fail(at, "output.dedupe", "%q on an s3:// destination needs state_store: the dedupe index lives in the database", t.Output.Dedupe)
		}
	}
	c.validateS3Keys(anyS3, base, fail)
}

// validateS3Keys checks the s3_* keys.
func (c *Config) validateS3Keys(anyS3 bool, base string, fail func(section, key, format string, args ...any)) {
	cl := &c.Cluster
	set := map[string]bool{
		"s3_endpoint": cl.S3Endpoint != "", "s3_region": cl.S3Region != "", "s3_path_style": cl.S3PathStyle != nil,
		"s3_access_key_id_env": cl.S3AccessKeyIDEnv != "", "s3_access_key_id_file": cl.S3AccessKeyIDFile != "",
		"s3_secret_access_key_env": cl.S3SecretAccessKeyEnv != "", "s3_secret_access_key_file": cl.S3SecretAccessKeyFile != "",
		"s3_create_only": cl.S3CreateOnly != "",
	}
	if !anyS3 {
		for _, key := range slices.Sorted(maps.Keys(set)) {
			if set[key] {
				fail("", key, "is only used by tasks whose destination is s3://..., and none is")
			}
		}
		return
	}
	id := countSet(set["s3_access_key_id_env"], set["s3_access_key_id_file"])
	secret := countSet(set["s3_secret_access_key_env"], set["s3_secret_access_key_file"])
	switch {
	case id > 1:
		fail("", "s3_access_key_id_env", "set only one of s3_access_key_id_env, s3_access_key_id_file")
	case secret > 1:
		fail("", "s3_secret_access_key_env", "set only one of s3_secret_access_key_env, s3_secret_access_key_file")
	case id != secret:
		fail("", "s3_access_key_id_env", "set both the access key ID (s3_access_key_id_env or _file) and the secret (s3_secret_access_key_env or _file), or neither for the standard AWS environment")
	}
	switch cl.S3CreateOnly {
	case "", S3CreateOnlyRequire, S3CreateOnlyCheckFirst:
	default:
		fail("", "s3_create_only", "%q is neither %q (the default: write only to a store that honours If-None-Match: *) nor %q (look at each key before writing it)",
			cl.S3CreateOnly, S3CreateOnlyRequire, S3CreateOnlyCheckFirst)
	}
	cl.S3AccessKeyIDFile = resolveIfSet(base, cl.S3AccessKeyIDFile)
	cl.S3SecretAccessKeyFile = resolveIfSet(base, cl.S3SecretAccessKeyFile)
	if cl.S3Endpoint != "" {
		u, err := url.Parse(cl.S3Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			fail("", "s3_endpoint", "%q is not a URL such as https://s3.example.com or http://127.0.0.1:9000", cl.S3Endpoint)
		}
	}
}

func (c *Config) hasOAuth2() bool {
	for _, a := range c.Accounts {
		if a.Auth == AuthOAuth2 {
			return true
		}
	}
	return false
}

func resolveIfSet(base, p string) string {
	if p == "" {
		return ""
	}
	return resolve(base, p)
}

func keyOf(first bool, a, b string) string {
	if first {
		return a
	}
	return b
}
