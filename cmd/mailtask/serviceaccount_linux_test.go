package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// TestServiceAccountReadsWorkspaceMailboxes follows the README's path for
// a Google service account to two mailboxes of one domain, read by a
// real Dovecot that checks every token with the identity platform:
// validate reads the key file, auth login proves it, check and run-task
// sign in to each mailbox over XOAUTH2 with its own token, auth status
// shows who acts as whom, and nothing shows the key or a token.
func TestServiceAccountReadsWorkspaceMailboxes(t *testing.T) {
	key, err := testmail.NewServiceAccountKey(false)
	if err != nil {
		t.Fatal(err)
	}
	idp, err := testmail.StartIdP(testmail.IdPOptions{ServiceAccounts: []testmail.GoogleServiceAccount{key.Account(config.ScopeGoogleMail)}, WorkspaceUsers: []string{dovecot.DefaultUser, "bob"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	opts := dovecot.OAuth2(idp.IntrospectURL(), "xoauth2 oauthbearer")
	opts.Users = map[string]string{"bob": "unused-password"}
	d := dovecot.Start(t, opts)
	d.Seed(t, d.User, "INBOX", []byte("Subject: one\r\n\r\nbody\r\n"), []byte("Subject: two\r\n\r\nbody\r\n"))
	d.Seed(t, "bob", "INBOX", []byte("Subject: bob's\r\n\r\nbody\r\n"))
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "sa.json", string(key.JSON(idp.GoogleTokenURL())))
	host, port, _ := strings.Cut(d.IMAPSAddr, ":")
	var text strings.Builder
	text.WriteString("state_dir = \"state\"\n")
	for _, user := range []string{dovecot.DefaultUser, "bob"} {
		fmt.Fprintf(&text, `[accounts.%[1]s]
host = %[2]q
port = %[3]s
ca_file = %[4]q
username = %[1]q
auth = "oauth2"
timeout = "10s"
[accounts.%[1]s.oauth2]
provider = "google"
flow = "service_account"
service_account_key_file = "sa.json"
[[task]]
name = "%[1]s-inbox"
account = %[1]q
destination = "out-%[1]s"
`, user, host, port, d.CACertFile)
	}
	cfg := writeFile(t, dir, "mailtask.toml", text.String())
	var shown strings.Builder
	step := func(want string, args ...string) {
		t.Helper()
		code, out, errOut := run(t, args...)
		shown.WriteString(out + errOut)
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, want %q\n%s%s", strings.Join(args, " "), code, want, out, errOut)
		}
	}
	step("ok (2 accounts, 2 tasks)", "validate", "--config", cfg)
	step("ok: Google issued a token acting as alice", "auth", "login", "--config", cfg, "alice")
	step("authenticate  ok      as alice with XOAUTH2", "check", "--config", cfg, "--log-level", "debug", "alice-inbox")
	step("2 in INBOX", "check", "--config", cfg, "alice-inbox")
	step("1 new", "run-task", "--config", cfg, "--log-level", "debug", "bob-inbox")
	step("acting as      bob", "auth", "status", "--config", cfg)
	step("service acct   "+testmail.ServiceAccountEmail+", client ID "+testmail.ServiceAccountClientID, "auth", "status", "--config", cfg, "alice")
	step("key            "+key.ID, "auth", "status", "--config", cfg, "alice")
	if n := idp.Requests("urn:ietf:params:oauth:grant-type:jwt-bearer"); n != 2 {
		t.Errorf("%d tokens asked for, want one per mailbox (auth login's, reused by check; bob's)", n)
	}

	// Nothing printed shows the key or a token, at debug level either.
	if !strings.Contains(shown.String(), "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer") {
		t.Fatalf("no debug log of the token requests was captured, so this proves nothing:\n%s", shown.String())
	}
	var secrets []string
	for _, user := range []string{dovecot.DefaultUser, "bob"} {
		data, err := os.ReadFile(filepath.Join(dir, "state", "tokens", user+".json"))
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, regexp.MustCompile(`"access_token": "([^"]+)"`).FindStringSubmatch(string(data))[1])
	}
	var file map[string]string
	json.Unmarshal(key.JSON(""), &file)
	for _, line := range strings.Split(file["private_key"], "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line)
		}
	}
	for _, s := range secrets {
		if strings.Contains(shown.String(), s) {
			t.Errorf("a secret (%.10s…) was printed", s)
		}
	}

	// The account now names another mailbox: its stored token is not
	// alice's to use there, and auth status says so.
	editFile(t, cfg, `username = "alice"`, `username = "carol"`)
	if _, out, _ := run(t, "auth", "status", "--config", cfg, "alice"); !strings.Contains(out, "warning: the stored token acts as alice, not as username carol") {
		t.Errorf("auth status after the username changed:\n%s", out)
	}
	editFile(t, cfg, `username = "carol"`, `username = "alice"`)

	// Google refuses: auth login shows its words and the hint naming the fix.
	idp.FailNext("urn:ietf:params:oauth:grant-type:jwt-bearer", testmail.IdPError{Status: 401, Code: "unauthorized_client", Message: testmail.GoogleUnauthorizedClient})
	code, _, errOut := run(t, "auth", "login", "--config", cfg, "bob")
	if code == exitOK || !strings.Contains(errOut, testmail.GoogleUnauthorizedClient) || !strings.Contains(errOut, "hint: Google refused the service account's grant") || !strings.Contains(errOut, "Manage Domain Wide Delegation") {
		t.Errorf("auth login refused: exit %d\n%s", code, errOut)
	}

	// An OAuth client's file given by mistake: validate says what it is.
	writeFile(t, dir, "sa.json", `{"installed":{"client_id":"1.apps.googleusercontent.com","client_secret":"GOCSPX-x"}}`)
	code, _, errOut = run(t, "validate", "--config", cfg)
	if code == exitOK || !strings.Contains(errOut, cfg+`: account "alice": oauth2.service_account_key_file: `+keyFile+`: is an OAuth client's file`) {
		t.Errorf("validate with an OAuth client's file: exit %d\n%s", code, errOut)
	}
}
