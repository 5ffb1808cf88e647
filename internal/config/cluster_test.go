package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const clusterAccounts = `
[accounts.m365]
host = "outlook.office365.com"
username = "invoices@contoso.com"
auth = "oauth2"
[accounts.m365.oauth2]
client_id = "11111111-2222-3333-4444-555555555555"
tenant = "contoso.onmicrosoft.com"
`

const clusterTask = `
[[task]]
name = "invoices"
account = "m365"
destination = "s3://invoices-bucket/mail/{from_domain}/{yyyy}"
`

// testTokenKey is what `openssl rand -base64 32` prints, for tests.
const testTokenKey = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80="

func TestClusterKeys(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Parse(filepath.Join(dir, "m.toml"), []byte(`
state_store_env = "MAILTASK_DB"
token_key_file = "secrets/token.key"
s3_endpoint = "http://127.0.0.1:9000"
s3_region = "eu-west-1"
s3_path_style = true
s3_create_only = "check_first"
s3_access_key_id_env = "S3_ID"
s3_secret_access_key_file = "secrets/s3.secret"
`+clusterAccounts+clusterTask))
	if err != nil {
		t.Fatal(err)
	}
	cl := cfg.Cluster
	if !cl.SharedState() || cl.TokenKeyFile != filepath.Join(dir, "secrets", "token.key") || cl.S3SecretAccessKeyFile != filepath.Join(dir, "secrets", "s3.secret") {
		t.Errorf("cluster keys: %+v", cl)
	}
	if d := cfg.Tasks[0].Destination; d != "s3://invoices-bucket/mail/{from_domain}/{yyyy}" {
		t.Errorf("an s3:// destination was changed to %q", d)
	}
	if cl.LeaseTime() != DefaultLease {
		t.Errorf("lease %s, want the default %s", cl.LeaseTime(), DefaultLease)
	}
	if cl.S3PathStyle == nil || !*cl.S3PathStyle || cl.S3Region != "eu-west-1" || cl.S3CreateOnly != S3CreateOnlyCheckFirst {
		t.Errorf("s3 keys: %+v", cl)
	}

	t.Setenv("MAILTASK_DB", "postgres://mailtask:db-secret@db:5432/mailtask")
	t.Setenv("S3_ID", "AKIDEXAMPLE")
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, cl.TokenKeyFile, testTokenKey+"\n")
	write(t, cl.S3SecretAccessKeyFile, "s3-secret\n")
	if url, err := cl.ResolveStateStore(); err != nil || url.Reveal() != "postgres://mailtask:db-secret@db:5432/mailtask" {
		t.Errorf("ResolveStateStore: %v", err)
	}
	if keys, err := cl.ResolveTokenKeys(); err != nil || len(keys.Current) != TokenKeySize || keys.Previous != nil {
		t.Errorf("ResolveTokenKeys: %d and %d bytes, %v", len(keys.Current), len(keys.Previous), err)
	}
	if id, secret, err := cl.ResolveS3Credentials(); err != nil || id.Reveal() != "AKIDEXAMPLE" || secret.Reveal() != "s3-secret" {
		t.Errorf("ResolveS3Credentials: %v", err)
	}
	if got := cl.TokenKeySetting(); got != "token_key_file "+cl.TokenKeyFile {
		t.Errorf("TokenKeySetting = %q", got)
	}
	if s := fmt.Sprintf("%+v %#v", cfg.Cluster, Cluster{StateStore: "postgres://u:inline-secret@h/d"}); strings.Contains(s, "inline-secret") {
		t.Errorf("an inline state_store prints: %s", s)
	}
}

func TestTheFileStoreIsTheDefault(t *testing.T) {
	cfg, err := Parse("/etc/mailtask/m.toml", []byte(daemonBase+`
[[task]]
name = "t"
account = "a"
destination = "d"
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SharedState() {
		t.Error("state is shared without state_store")
	}
	if keys, err := cfg.ResolveTokenKeys(); keys.Current != nil || keys.Previous != nil || err != nil {
		t.Errorf("ResolveTokenKeys without a key: %v, %v", keys, err)
	}
}

func TestClusterKeyErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"two state stores", `state_store_env = "A"` + "\nstate_store_file = \"f\"\ntoken_key_env = \"K\"\n" + clusterAccounts + clusterTask,
			"state_store: set only one of state_store, state_store_env, state_store_file"},
		{"not postgres", `state_store = "mysql://u:secret-pw@h/d"` + "\ntoken_key_env = \"K\"\n" + clusterAccounts + clusterTask,
			"state_store: not a postgres:// URL"},
		{"key without a store", `token_key_env = "K"` + "\n" + daemonBase + "[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n",
			"token_key_env: is only used with state_store"},
		{"oauth2 without a key", `state_store_env = "DB"` + "\n" + clusterAccounts + clusterTask,
			"token_key_env: state_store keeps OAuth2 tokens in the database"},
		{"two keys", `state_store_env = "DB"` + "\ntoken_key_env = \"K\"\ntoken_key_file = \"f\"\n" + clusterAccounts + clusterTask,
			"token_key_env: set only one of token_key_env, token_key_file"},
		{"two previous keys", `state_store_env = "DB"` + "\ntoken_key_env = \"K\"\ntoken_key_previous_env = \"P\"\ntoken_key_previous_file = \"f\"\n" + clusterAccounts + clusterTask,
			"token_key_previous_env: set only one of token_key_previous_env, token_key_previous_file"},
		{"previous key without a current one", `state_store_env = "DB"` + "\ntoken_key_previous_file = \"old.key\"\n" + clusterAccounts + clusterTask,
			"token_key_previous_file: is the key being retired, which only opens tokens sealed before: set token_key_env or token_key_file"},
		{"previous key in the current key's variable", `state_store_env = "DB"` + "\ntoken_key_env = \"K\"\ntoken_key_previous_env = \"K\"\n" + clusterAccounts + clusterTask,
			"token_key_previous_env: names K, as token_key_env does"},
		{"previous key in the current key's file", `state_store_env = "DB"` + "\ntoken_key_file = \"/etc/k\"\ntoken_key_previous_file = \"../k\"\n" + clusterAccounts + clusterTask,
			"token_key_previous_file: names /etc/k, as token_key_file does"},
		{"s3 keys without an s3 task", `s3_region = "x"` + "\n" + daemonBase + "[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n",
			"s3_region: is only used by tasks whose destination is s3://"},
		{"id without secret", `s3_access_key_id_env = "I"` + "\n" + daemonBase + "[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"s3://bkt/x\"\n",
			"s3_access_key_id_env: set both the access key ID"},
		{"bad endpoint", `s3_endpoint = "127.0.0.1:9000"` + "\n" + daemonBase + "[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"s3://bkt/x\"\n",
			`s3_endpoint: "127.0.0.1:9000" is not a URL`},
		{"bad create-only", `s3_create_only = "trust"` + "\n" + daemonBase + "[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"s3://bkt/x\"\n",
			`s3_create_only: "trust" is neither "require"`},
		{"bad bucket", daemonBase + "[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"s3://Bad_Bucket/{yyyy}\"\n",
			`task "t": destination: "s3://Bad_Bucket": the bucket "Bad_Bucket" is not a bucket name`},
		{"variable in the bucket", daemonBase + "[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"s3://{from_domain}/x\"\n",
			`task "t": destination:`},
		{"dedupe without a store", daemonBase + "[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"s3://bkt/x\"\n[task.output]\ndedupe = \"sha256\"\n",
			`task "t": output.dedupe: "sha256" on an s3:// destination needs state_store`},
		{"lease without a store", `lease = "30s"` + "\n" + daemonBase + "[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n",
			"lease: is only used with state_store"},
		{"lease too short", `lease = "1s"` + "\n" + `state_store_env = "DB"` + "\ntoken_key_env = \"K\"\n" + clusterAccounts + clusterTask,
			"lease: 1s is outside 3s..1h"},
		{"typo", `state_stor = "x"` + "\n" + daemonBase + "[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n",
			"state_stor: unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/etc/mailtask/m.toml", []byte(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-pw") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

func TestTokenKeyErrorsNameTheSettingNotTheKey(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.key")
	write(t, short, "c2hvcnQta2V5\n") // "short-key"
	for _, tc := range []struct {
		cl   Cluster
		env  string
		want string
	}{
		{Cluster{TokenKeyFile: short}, "", "token_key_file " + short + ": the token key is 9 bytes once decoded, it must be 32"},
		{Cluster{TokenKeyEnv: "TK"}, "not base64 at all!", "token_key_env TK: the token key is not base64"},
		{Cluster{TokenKeyEnv: "TK_UNSET"}, "", "token_key_env: environment variable TK_UNSET is not set"},
		{Cluster{TokenKeyFile: filepath.Join(dir, "missing")}, "", "token_key_file: open " + filepath.Join(dir, "missing")},
		{Cluster{TokenKeyEnv: "TK", TokenKeyPreviousFile: short}, testTokenKey, "token_key_previous_file " + short + ": the token key is 9 bytes once decoded"},
		{Cluster{TokenKeyEnv: "TK", TokenKeyPreviousEnv: "TK_UNSET"}, testTokenKey, "token_key_previous_env: environment variable TK_UNSET is not set"},
		{Cluster{TokenKeyEnv: "TK", TokenKeyPreviousEnv: "TK_AGAIN"}, testTokenKey, "token_key_previous_env TK_AGAIN: the previous token key is the current one (token_key_env TK)"},
	} {
		if tc.env != "" {
			t.Setenv(tc.cl.TokenKeyEnv, tc.env)
			t.Setenv("TK_AGAIN", tc.env)
		}
		_, err := tc.cl.ResolveTokenKeys()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cl, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "c2hvcnQta2V5") || strings.Contains(err.Error(), "not base64 at all")) {
			t.Errorf("the error shows the key: %v", err)
		}
	}
	t.Setenv("TK", testTokenKey)
	t.Setenv("TK_BAD", "not base64 at all!")
	if w, err := (&Cluster{TokenKeyEnv: "TK", TokenKeyPreviousEnv: "TK_UNSET"}).CheckTokenKeys(); err != nil || len(w) != 1 || !strings.Contains(w[0], "TK_UNSET is not set") {
		t.Errorf("CheckTokenKeys of a key not given here: %q, %v; want a warning", w, err)
	}
	if _, err := (&Cluster{TokenKeyEnv: "TK", TokenKeyPreviousEnv: "TK_BAD"}).CheckTokenKeys(); err == nil || !strings.Contains(err.Error(), "token_key_previous_env TK_BAD: the token key is not base64") {
		t.Errorf("CheckTokenKeys of a bad previous key: %v", err)
	}
	t.Setenv("DB", "mysql://u:db-secret@h/d")
	if _, err := (&Cluster{StateStoreEnv: "DB"}).ResolveStateStore(); err == nil || strings.Contains(err.Error(), "db-secret") || !strings.Contains(err.Error(), "state_store_env DB") {
		t.Errorf("ResolveStateStore of a non-postgres URL: %v", err)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
