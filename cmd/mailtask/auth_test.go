package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailtask/internal/testmail"
)

const (
	oauthUser   = "invoices@contoso.com"
	oauthTenant = "contoso.onmicrosoft.com"
	oauthSecret = "Qx8~client.secret.value.for-tests"
)

// oauthFixture is an in-process IMAP server that takes tokens from a fake
// identity platform, and a config with one OAuth2 account and task for it.
type oauthFixture struct {
	t        *testing.T
	idp      *testmail.IdP
	srv      *testmail.IMAPServer
	cfg      string
	redirect string
	refuse   atomic.Bool // the IMAP server refuses every token
	// fault, when set, answers the IMAP commands testmail.IMAPOptions.Fault
	// sees.
	fault atomic.Pointer[func(cmd string) error]
}

func newOAuthFixture(t *testing.T, idpOpts testmail.IdPOptions, oauthTOML string) *oauthFixture {
	t.Helper()
	f := &oauthFixture{t: t}
	f.redirect = testmail.RedirectURL(t)
	idpOpts.Tenant, idpOpts.User, idpOpts.ClientSecret, idpOpts.RedirectURL = oauthTenant, oauthUser, oauthSecret, f.redirect
	var err error
	if f.idp, err = testmail.StartIdP(idpOpts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.idp.Close() })
	ca, err := testmail.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	f.srv, err = testmail.StartIMAP(testmail.IMAPOptions{
		TLS: ca.ServerTLS, Username: oauthUser, Password: "unused",
		XOAUTH2: func(user, token string) bool {
			return !f.refuse.Load() && f.idp.CheckToken("IMAP.AccessAsUser.All")(user, token)
		},
		Fault: func(cmd string) error {
			if fault := f.fault.Load(); fault != nil {
				return (*fault)(cmd)
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.Close() })
	for _, m := range testmail.DemoCorpus()[:3] {
		if _, err := f.srv.Append("INBOX", m.Raw); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	caFile, err := ca.WriteCertFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	f.cfg = f.writeConfig(dir, f.srv.Addr, caFile, oauthUser, "client_secret = \""+oauthSecret+"\"\n"+oauthTOML)
	return f
}

// writeConfig writes dir/mailtask.toml: account m365 signs in at addr
// (implicit TLS, trusting caFile) as username with the fixture's IdP and
// oauthTOML, and task "invoices" reads it. A browser sign-in comes back to
// f.redirect.
func (f *oauthFixture) writeConfig(dir, addr, caFile, username, oauthTOML string) string {
	f.t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	if !strings.Contains(oauthTOML, "flow") {
		oauthTOML += "\nredirect_url = \"" + f.redirect + "\""
	}
	return writeFile(f.t, dir, "mailtask.toml", fmt.Sprintf(`state_dir = "state"
[accounts.m365]
host = %q
port = %s
ca_file = %q
username = %q
auth = "oauth2"
timeout = "10s"
[accounts.m365.oauth2]
tenant = %q
client_id = %q
token_url = %q
auth_url = %q
device_url = %q
%s
[[task]]
name = "invoices"
account = "m365"
destination = "out"
`, host, port, caFile, username, oauthTenant, f.idp.ClientID(),
		f.idp.Endpoint(oauthTenant, "token"), f.idp.Endpoint(oauthTenant, "authorize"), f.idp.Endpoint(oauthTenant, "devicecode"), oauthTOML))
}

// watchedWriter is a terminal the test reads while the command runs: every
// line is passed to watch as it is written.
type watchedWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	part  string
	watch func(line string)
}

func (w *watchedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.buf.Write(p)
	lines := strings.Split(w.part+string(p), "\n")
	w.part = lines[len(lines)-1]
	w.mu.Unlock()
	for _, l := range lines[:len(lines)-1] {
		w.watch(l)
	}
	return len(p), nil
}

func (w *watchedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// runWatched runs the CLI with watch seeing its standard output line by
// line.
func runWatched(t *testing.T, watch func(string), args ...string) (code int, stdout, stderr string) {
	t.Helper()
	out := &watchedWriter{watch: watch}
	var errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code = mainWithExit(ctx, args, &env{stdout: out, stderr: &errOut})
	return code, out.String(), errOut.String()
}

var signInURL = regexp.MustCompile(`^\s+(http://\S+/authorize\?\S+)$`)

// loginInBrowser runs `auth login` with an HTTP client as the browser: it
// follows the printed sign-in URL through the identity platform to the
// command's own listener.
func (f *oauthFixture) loginInBrowser(extra ...string) (code int, stdout, stderr string) {
	f.t.Helper()
	browsed := make(chan error, 1)
	var seen atomic.Bool
	code, stdout, stderr = runWatched(f.t, func(line string) {
		m := signInURL.FindStringSubmatch(line)
		if m == nil || seen.Swap(true) {
			return
		}
		go func() { // the command is waiting for this
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(m[1])
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("browser ended at %s with status %d", resp.Request.URL, resp.StatusCode)
				}
			}
			browsed <- err
		}()
	}, append([]string{"auth", "login", "--config", f.cfg, "--no-browser", "m365"}, extra...)...)
	if !seen.Load() {
		f.t.Errorf("no sign-in URL was printed:\n%s", stdout)
		return code, stdout, stderr
	}
	if err := <-browsed; err != nil { // bounded by the client's timeout
		f.t.Error(err)
	}
	return code, stdout, stderr
}

func TestAuthLoginThroughTheBrowser(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "")
	code, out, errOut := run(t, "auth", "status", "--config", f.cfg)
	if code != exitFailed || !strings.Contains(out, "not signed in; run `mailtask auth login m365`") {
		t.Errorf("status before login: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = f.loginInBrowser()
	if code != exitOK {
		t.Fatalf("auth login: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"sign in as " + oauthUser, "Signed in as " + oauthUser + ".", "Tokens stored in "} {
		if !strings.Contains(out, want) {
			t.Errorf("auth login output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "note: the token belongs to") {
		t.Errorf("a matching user was flagged:\n%s", out)
	}

	code, out, errOut = run(t, "auth", "status", "--config", f.cfg, "m365")
	for _, want := range []string{"signed in as   " + oauthUser, "access token   valid until", "refresh token  issued", "authorization_code"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if code != exitOK {
		t.Errorf("status after login: exit %d\n%s%s", code, out, errOut)
	}
}

// A customer who leaves leaves no working refresh token behind: auth
// logout removes the stored tokens, and the account is signed out.
func TestAuthLogoutRemovesTheStoredTokens(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "")
	if code, out, errOut := f.loginInBrowser(); code != exitOK {
		t.Fatalf("auth login: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := run(t, "auth", "logout", "--config", f.cfg, "m365")
	if code != exitOK || !strings.Contains(out, `account "m365": its tokens are removed from `) || !strings.Contains(out, "Revoke sessions") {
		t.Fatalf("auth logout: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := run(t, "auth", "status", "--config", f.cfg, "m365"); code != exitFailed || !strings.Contains(out, "not signed in") {
		t.Errorf("status after logout: exit %d\n%s", code, out)
	}
	if code, out, _ := run(t, "auth", "logout", "--config", f.cfg, "m365"); code != exitOK || !strings.Contains(out, "has no stored tokens") {
		t.Errorf("logout again: exit %d\n%s", code, out)
	}
}

func TestAuthLoginWithADeviceCode(t *testing.T) {
	// One second between polls is the shortest the protocol allows.
	f := newOAuthFixture(t, testmail.IdPOptions{DeviceInterval: 1}, "flow = \"device_code\"")
	code, out, errOut := runWatched(t, func(line string) {
		if m := regexp.MustCompile(`enter the code (\S+)`).FindStringSubmatch(line); m != nil {
			// The user, on another device.
			resp, err := http.Get(f.idp.URL + "/devicelogin?code=" + m[1])
			if err != nil || resp.StatusCode != 200 {
				t.Errorf("device page: %v %v", resp, err)
				return
			}
			resp.Body.Close()
		}
	}, "auth", "login", "--config", f.cfg, "m365")
	if code != exitOK || !strings.Contains(out, "/devicelogin on any device and enter the code") || !strings.Contains(out, "Signed in as "+oauthUser) {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

func TestAuthLoginRefusals(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "")
	f.idp.FailNext("authorize", testmail.IdPError{Code: "invalid_request", AADSTS: 90002, Message: "Tenant 'contoso.onmicrosft.com' not found."})
	code, _, errOut := f.loginInBrowser()
	if code != exitFailed || !strings.Contains(errOut, "AADSTS90002") || !strings.Contains(errOut, "hint: Microsoft does not know that tenant") {
		t.Errorf("refused sign-in: exit %d\n%s", code, errOut)
	}

	dir := t.TempDir()
	pw := writeFile(t, dir, "pw.toml", "[accounts.a]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n")
	for _, args := range [][]string{
		{"auth", "login", "--config", pw, "a"},
		{"auth", "login", "--config", pw, "nope"},
		{"auth", "login", "--config", pw},
		{"auth", "frobnicate"},
	} {
		if code, _, errOut := run(t, args...); code != exitUsage || errOut == "" {
			t.Errorf("%v: exit %d, %q; want a usage error", args, code, errOut)
		}
	}
}

func TestCheckWithOAuth2(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "")
	code, out, _ := run(t, "check", "--config", f.cfg, "invoices")
	if code != exitFailed || !strings.Contains(out, "token         failed") || !strings.Contains(out, "mailtask auth login m365") {
		t.Errorf("check before login: exit %d\n%s", code, out)
	}
	if code, out, errOut := f.loginInBrowser(); code != exitOK {
		t.Fatalf("login: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := run(t, "check", "--config", f.cfg, "invoices")
	if code != exitOK {
		t.Fatalf("check: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"token         ok      " + oauthUser + ", valid until",
		"connect       ok      " + f.srv.Addr,
		"TLS           ok      implicit",
		"authenticate  ok      as " + oauthUser + " with XOAUTH2",
		"list folders  ok      1 folder",
		"select        ok      INBOX (UIDVALIDITY 1)",
		`messages      ok      3 in INBOX, 3 not yet taken by task "invoices"`,
		"invoices: ok",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	// check changes nothing on the server, and takes nothing.
	for _, m := range f.srv.Messages("INBOX") {
		if len(m.Flags) != 0 {
			t.Errorf("check left flags %v on UID %d", m.Flags, m.UID)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(f.cfg), "out")); err == nil {
		t.Error("check created the destination")
	}
}

func TestCheckShowsTheRefusalAndAHint(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "")
	if code, out, errOut := f.loginInBrowser(); code != exitOK {
		t.Fatalf("login: exit %d\n%s%s", code, out, errOut)
	}
	f.refuse.Store(true)
	code, out, _ := run(t, "check", "--config", f.cfg, "invoices")
	for _, want := range []string{"token         ok", "connect       ok", "TLS           ok", "authenticate  failed  login to", "AUTHENTICATE failed.", "hint: The mail server refused the OAuth2 token"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if code != exitFailed {
		t.Errorf("exit %d, want %d", code, exitFailed)
	}
}

// TestOAuth2SecretsNeverShown runs every command that touches an OAuth2
// account, at debug level where there is one, and looks for the client
// secret and every token in everything printed.
func TestOAuth2SecretsNeverShown(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{AccessTTL: 2 * time.Minute}, "")
	var shown strings.Builder
	record := func(code int, out, errOut string) {
		shown.WriteString(out)
		shown.WriteString(errOut)
	}
	record(f.loginInBrowser())
	record(run(t, "auth", "status", "--config", f.cfg))
	record(run(t, "check", "--config", f.cfg, "--log-level", "debug", "invoices"))
	code, out, errOut := run(t, "run-task", "--config", f.cfg, "--log-level", "debug", "invoices")
	if code != exitOK || !strings.Contains(out, "3 new, 3 saved") {
		t.Fatalf("run-task: exit %d\n%s%s", code, out, errOut)
	}
	record(code, out, errOut)
	record(run(t, "--help"))
	record(run(t, "auth", "login", "--help"))
	if !strings.Contains(shown.String(), "token request") {
		t.Fatalf("no debug log of token requests was captured, so this test proves nothing:\n%s", shown.String())
	}

	tokens, err := os.ReadFile(filepath.Join(filepath.Dir(f.cfg), "state", "tokens", "m365.json"))
	if err != nil {
		t.Fatal(err)
	}
	secrets := []string{oauthSecret}
	for _, m := range regexp.MustCompile(`"(access_token|refresh_token)": "([^"]+)"`).FindAllStringSubmatch(string(tokens), -1) {
		secrets = append(secrets, m[2])
	}
	if len(secrets) != 3 {
		t.Fatalf("found %d secrets in the token store, want the client secret and two tokens", len(secrets))
	}
	for _, s := range secrets {
		if strings.Contains(shown.String(), s) {
			t.Errorf("a secret (%.10s…) was printed:\n%s", s, shown.String())
		}
	}
	// The state files hold no token either.
	entries, _ := os.ReadDir(filepath.Join(filepath.Dir(f.cfg), "state"))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(filepath.Dir(f.cfg), "state", e.Name()))
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("state file %s holds a secret", e.Name())
			}
		}
	}
}

func TestAppOnlyAccountNeedsNoSignIn(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "flow = \"client_credentials\"")
	code, out, errOut := run(t, "auth", "login", "--config", f.cfg, "m365")
	if code != exitOK || !strings.Contains(out, "there is no sign-in") || !strings.Contains(out, "issued an app-only token") {
		t.Errorf("auth login: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, "check", "--config", f.cfg, "invoices")
	if code != exitOK || !strings.Contains(out, "token         ok      app-only") || !strings.Contains(out, "authenticate  ok      as "+oauthUser+" with XOAUTH2") {
		t.Errorf("check: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = run(t, "auth", "status", "--config", f.cfg)
	if code != exitOK || !strings.Contains(out, "client_credentials") || !strings.Contains(out, "access token   valid until") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	// Its app's token is shared: logging one account out would not end
	// its access, and says what would.
	if code, _, errOut := run(t, "auth", "logout", "--config", f.cfg, "m365"); code != exitUsage || !strings.Contains(errOut, "Remove-MailboxPermission") {
		t.Errorf("auth logout: exit %d\n%s", code, errOut)
	}
}
