package main

import (
	"net"
	"strings"
	"testing"

	"mailtask/internal/testmail/dovecot"
	"mailtask/internal/testmail/postgres"
	"mailtask/internal/testmail/versitygw"
)

// An operator's first deployment of cluster mode, one setting wrong at a
// time: each error names the file once and the key to fix, says what to
// do, shows no secret, and exits with the documented code.

// settingsConfig writes a configuration of cluster mode whose database URL
// is in db.url and whose token key is in token.key, with task "t" on a
// mailbox nobody reaches (these commands fail before any run).
func settingsConfig(t *testing.T, url, tokenKey string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "db.url", url)
	writeFile(t, dir, "token.key", tokenKey)
	return writeFile(t, dir, "mailtask.toml", `state_dir = "state"
state_store_file = "db.url"
token_key_file = "token.key"
[accounts.a]
host = "127.0.0.1"
port = 1
tls = "none"
username = "u"
password = "p"
[[task]]
name = "t"
account = "a"
destination = "dest"
`)
}

const goodTokenKey = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=" // 32 bytes

func TestClusterSettingErrorsNameTheKeyOnce(t *testing.T) {
	t.Parallel()
	nobody := closedAddr(t)
	for _, tc := range []struct {
		name, url, key string
		code           int
		want           []string
		// keyUnused: db migrate reads no token key.
		keyUnused bool
	}{
		// A password with a '/' not percent-encoded: pgx cannot parse
		// the URL. A configuration error, not a failed run.
		{"URL does not parse", "postgres://mailtask:pa/ss-w0rd@" + nobody + "/mailtask", goodTokenKey, exitUsage,
			[]string{"state_store_file", "db.url", "percent-encode"}, false},
		{"token key not base64", "postgres://mailtask:pass-w0rd@" + nobody + "/mailtask", "replace-with-the-output-of-openssl-rand-base64-32", exitUsage,
			[]string{"token_key_file", "token.key", "openssl rand -base64 32"}, true},
		// Nothing listens: a failure with the advice for the database,
		// not for the mailbox's host and port.
		{"database unreachable", "postgres://mailtask:pass-w0rd@" + nobody + "/mailtask?sslmode=disable", goodTokenKey, exitFailed,
			[]string{"hint: ", "Check that PostgreSQL is up", "state_store_file"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := settingsConfig(t, tc.url, tc.key)
			commands := [][]string{{"run-task", "--config", cfg, "t"}, {"status", "--config", cfg}}
			if !tc.keyUnused {
				commands = append(commands, []string{"db", "migrate", "--config", cfg})
			}
			for _, args := range commands {
				code, _, stderr := run(t, args...)
				if code != tc.code {
					t.Errorf("%s: exit %d, want %d\n%s", args[0], code, tc.code, stderr)
				}
				for _, w := range tc.want {
					if !strings.Contains(stderr, w) {
						t.Errorf("%s: stderr lacks %q:\n%s", args[0], w, stderr)
					}
				}
				if n := strings.Count(stderr, cfg); n > 1 {
					t.Errorf("%s: stderr names %s %d times:\n%s", args[0], cfg, n, stderr)
				}
				for _, secret := range []string{"pa/ss-w0rd", "pass-w0rd", "replace-with-the-output", goodTokenKey} {
					if strings.Contains(stderr, secret) {
						t.Errorf("%s: stderr shows the secret %q:\n%s", args[0], secret, stderr)
					}
				}
				if strings.Contains(stderr, "IMAP") {
					t.Errorf("%s: the advice is the mailbox's:\n%s", args[0], stderr)
				}
			}
		})
	}
}

// TestMissingDatabaseSaysToCreateIt: a URL naming a database that does
// not exist on a real PostgreSQL.
func TestMissingDatabaseSaysToCreateIt(t *testing.T) {
	url := postgres.Shared(t).NewDatabase(t)
	cfg := settingsConfig(t, strings.Replace(url, "/"+dbName(url)+"?", "/no_such_db?", 1), goodTokenKey)
	code, _, stderr := run(t, "status", "--config", cfg)
	if code != exitFailed || !strings.Contains(stderr, "createdb") || !strings.Contains(stderr, "db migrate") {
		t.Errorf("exit %d, want %d and the advice to create the database:\n%s", code, exitFailed, stderr)
	}
}

func dbName(url string) string {
	name := url[strings.LastIndex(url, "/")+1:]
	name, _, _ = strings.Cut(name, "?")
	return name
}

// closedAddr is an address on loopback where nothing listens.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestObjectStoreRefusalsNameTheS3Key: a real S3 server refusing the
// secret, and a bucket that does not exist. `check` finds either before
// any run, and the run fails (exit 1), taking nothing; both with advice
// naming the s3_* key or the destination, not the mailbox's.
func TestObjectStoreRefusalsNameTheS3Key(t *testing.T) {
	gw := versitygw.Start(t)
	bucket := gw.NewBucket(t)
	d := dovecot.Start(t, dovecot.Options{})
	d.Seed(t, dovecot.DefaultUser, "INBOX", []byte("From: billing@acme.example\r\nTo: alice@example.com\r\nSubject: invoice\r\nMessage-ID: <s3-1@acme.example>\r\nDate: Mon, 07 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nattached\r\n--b\r\nContent-Type: application/pdf; name=invoice.pdf\r\nContent-Disposition: attachment; filename=invoice.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"))
	t.Setenv("OPS_S3_ID", gw.AccessKeyID)
	configFor := func(t *testing.T, bucket, secret string) string {
		t.Setenv("OPS_S3_SECRET", secret)
		return writeFile(t, t.TempDir(), "mailtask.toml", `state_dir = "state"
s3_endpoint = "`+gw.Endpoint+`"
s3_region = "`+versitygw.Region+`"
s3_access_key_id_env = "OPS_S3_ID"
s3_secret_access_key_env = "OPS_S3_SECRET"
`+d.AccountTOML("dovecot", "imap", d.User, d.Password)+`[[task]]
name = "t"
account = "dovecot"
destination = "s3://`+bucket+`/in"
retries = 0
`)
	}
	for _, tc := range []struct {
		name, bucket, secret string
		want                 []string
	}{
		{"secret wrong", bucket, "not-the-secret", []string{"SignatureDoesNotMatch", "s3_secret_access_key_env"}},
		{"no such bucket", bucket + "-missing", gw.SecretAccessKey, []string{"NoSuchBucket", "correct the bucket in the task's destination"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := configFor(t, tc.bucket, tc.secret)
			code, stdout, stderr := run(t, "check", "--config", cfg, "t")
			if code != exitFailed || !strings.Contains(stdout, "destination   failed") || !strings.Contains(stdout, tc.want[1]) {
				t.Errorf("check: exit %d, want %d with the destination failed and %q\n%s%s", code, exitFailed, tc.want[1], stdout, stderr)
			}
			code, _, stderr = run(t, "run-task", "--config", cfg, "t")
			if code != exitFailed {
				t.Errorf("run-task: exit %d, want %d\n%s", code, exitFailed, stderr)
			}
			_, hint, _ := strings.Cut(stderr, "\nhint: ")
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("run-task: stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(hint, "IMAP") || strings.Contains(hint, "ca_file") || strings.Contains(stderr, "not-the-secret") {
				t.Errorf("run-task: the hint is the mailbox's, or shows the secret:\n%s", stderr)
			}
		})
	}
	// Set right, check passes and the run takes the message.
	cfg := configFor(t, bucket, gw.SecretAccessKey)
	if code, stdout, stderr := run(t, "check", "--config", cfg, "t"); code != exitOK || !strings.Contains(stdout, "destination   ok      bucket "+bucket+" answers") {
		t.Errorf("check of the right settings: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := run(t, "run-task", "--config", cfg, "t"); code != exitOK || !strings.Contains(stdout, "1 saved") {
		t.Errorf("run-task with the right settings: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestStateMoveRefusalsSayWhatToFix: moving a task into the cluster from
// a state_dir that holds nothing of it is refused (the operator pointed
// state_dir elsewhere than where the task ran, and the cluster would take
// its mail again); an export refused over the files' state says to remove
// those files, not to `state reset`, which with this configuration resets
// the database's copy being exported.
func TestStateMoveRefusalsSayWhatToFix(t *testing.T) {
	cfg, url, stateDir := clusterTask(t)
	code, out, errOut := run(t, "state", "import", "--config", cfg, "t")
	if code != exitFailed || !strings.Contains(errOut, "no state under "+stateDir) || !strings.Contains(errOut, "set state_dir") {
		t.Errorf("import of a state_dir without the task's state: exit %d\n%s%s", code, out, errOut)
	}

	fileState(t, stateDir)
	if code, out, errOut := run(t, "state", "import", "--config", cfg, "t"); code != exitOK {
		t.Fatalf("state import: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = run(t, "state", "export", "--config", cfg, "t")
	if code != exitFailed || !strings.Contains(errOut, "remove its files there first (t.json, t.ledger, t.uidls.*)") {
		t.Errorf("an export over the files' state: exit %d\n%s", code, errOut)
	}
	if st, ledger := dbState(t, url); st.UIDValidity != 7 || ledger != 3 {
		t.Errorf("the refusals changed the database's state: UIDVALIDITY %d, %d in the ledger", st.UIDValidity, ledger)
	}
}
