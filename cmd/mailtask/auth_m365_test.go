package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtask/internal/testmail"
)

// editFile replaces old by new throughout path, which must hold old.
func editFile(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s lacks %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(data), old, new)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAuthLoginNamesTheAccountOnce(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "")
	f.idp.FailNext("authorize", testmail.IdPError{Code: "invalid_request", AADSTS: 50194, Message: "Application 'x'(mailtask) is not configured as a multi-tenant application."})
	code, _, errOut := f.loginInBrowser()
	if code != exitFailed || strings.Count(errOut, `account "m365"`) != 1 || !strings.Contains(errOut, "hint: The app is registered for its own directory only") {
		t.Errorf("exit %d, want the account named once and the AADSTS50194 hint:\n%s", code, errOut)
	}
}

// TestAuthLoginFailsAtOnceWhenThePortIsTaken: another program (CrushFTP
// on 9090, here this test) holds the redirect port on 127.0.0.1. Listening
// on [::1] alone would send the browser to that program.
func TestAuthLoginFailsAtOnceWhenThePortIsTaken(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "")
	port := strings.TrimSuffix(strings.TrimPrefix(f.redirect, "http://localhost:"), "/register_microsoft_graph_api/")
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	code, out, errOut := run(t, "auth", "login", "--config", f.cfg, "--no-browser", "--timeout", "20s", "m365")
	want := fmt.Sprintf("port %s on 127.0.0.1 is taken by process %d (", port, os.Getpid())
	if code != exitFailed || !strings.Contains(errOut, want) || strings.Contains(out, "Open this page") {
		t.Errorf("exit %d, want a failure naming %q before any sign-in URL:\n%s%s", code, want, out, errOut)
	}
}

// TestAuthLoginSaysWhatTheWaitWasFor: the browser never comes back (the
// platform showed an error on its own page): the failure says what was
// awaited and lists the causes, not a slow server.
func TestAuthLoginSaysWhatTheWaitWasFor(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "")
	code, _, errOut := run(t, "auth", "login", "--config", f.cfg, "--no-browser", "--timeout", "300ms", "m365")
	for _, want := range []string{"no browser came back to " + f.redirect, "waited 300ms; --timeout sets how long", "AADSTS50011", "AADSTS50194", "AADSTS700016", "AADSTS90002"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("output lacks %q:\n%s", want, errOut)
		}
	}
	if code != exitFailed || strings.Contains(errOut, "raise the account's timeout") {
		t.Errorf("exit %d, or the hint blames the server:\n%s", code, errOut)
	}
}

// TestAppOnlyLoginProvesANewSecret: `auth login` after the client secret
// was rotated must try the new secret now, not show the token it stored.
func TestAppOnlyLoginProvesANewSecret(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "flow = \"client_credentials\"")
	if code, out, errOut := run(t, "auth", "login", "--config", f.cfg, "m365"); code != exitOK {
		t.Fatalf("auth login: exit %d\n%s%s", code, out, errOut)
	}
	editFile(t, f.cfg, "client_secret = \""+oauthSecret+"\"", "client_secret = \"the-secret-id-not-its-value\"")
	code, out, errOut := run(t, "auth", "login", "--config", f.cfg, "m365")
	if code != exitFailed || !strings.Contains(errOut, "AADSTS7000215") || !strings.Contains(errOut, "not its Secret ID") || strings.Contains(out, "ok:") {
		t.Errorf("auth login with a wrong new secret: exit %d\n%s%s", code, out, errOut)
	}
}

// TestAuthStatusExitsOneWhenALoginIsDue covers the two cases the README
// promises besides "not signed in": a refresh token idle for 90 days, and
// a sign-in made for another app.
func TestAuthStatusExitsOneWhenALoginIsDue(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "")
	if code, out, errOut := f.loginInBrowser(); code != exitOK {
		t.Fatalf("login: exit %d\n%s%s", code, out, errOut)
	}
	tokens := filepath.Join(filepath.Dir(f.cfg), "state", "tokens", "m365.json")
	data, err := os.ReadFile(tokens)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	issued := rec["refresh_token_issued"].(string)
	editFile(t, tokens, issued, time.Now().Add(-91*24*time.Hour).UTC().Format(time.RFC3339Nano))
	code, out, _ := run(t, "auth", "status", "--config", f.cfg, "m365")
	if code != exitFailed || !strings.Contains(out, "most likely expired") {
		t.Errorf("status of a refresh token idle 91 days: exit %d\n%s", code, out)
	}

	os.WriteFile(tokens, data, 0o600) // fresh again
	if code, out, _ := run(t, "auth", "status", "--config", f.cfg, "m365"); code != exitOK {
		t.Fatalf("status of a fresh sign-in: exit %d\n%s", code, out)
	}
	editFile(t, f.cfg, "client_id = \""+f.idp.ClientID()+"\"", "client_id = \"11111111-2222-3333-4444-555555555555\"")
	code, out, _ = run(t, "auth", "status", "--config", f.cfg, "m365")
	if code != exitFailed || !strings.Contains(out, "the stored sign-in was made for client "+f.idp.ClientID()) {
		t.Errorf("status of a sign-in made for another client: exit %d\n%s", code, out)
	}
}

// TestReusedWebRegistration: the CrushFTP registration puts the redirect
// URI under the Web platform, so the code is redeemed only with the client
// secret; without it the hint names both fixes.
func TestReusedWebRegistration(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{WebPlatform: true}, "")
	editFile(t, f.cfg, "client_secret = \""+oauthSecret+"\"\n", "")
	code, _, errOut := f.loginInBrowser()
	for _, want := range []string{"AADSTS7000218", "set the account's client secret", "Mobile and desktop applications", "Allow public client flows: Yes"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("login without the secret lacks %q:\n%s", want, errOut)
		}
	}
	if code != exitFailed {
		t.Errorf("login without the secret: exit %d", code)
	}
	editFile(t, f.cfg, "[accounts.m365.oauth2]\n", "[accounts.m365.oauth2]\nclient_secret = \""+oauthSecret+"\"\n")
	if code, out, errOut := f.loginInBrowser(); code != exitOK {
		t.Fatalf("login with the secret: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run(t, "check", "--config", f.cfg, "invoices"); code != exitOK {
		t.Errorf("check: exit %d\n%s%s", code, out, errOut)
	}
}

// TestTokensDirectoryIsMadePrivate: a tokens directory someone created
// 0755 is tightened before tokens go into it.
func TestTokensDirectoryIsMadePrivate(t *testing.T) {
	f := newOAuthFixture(t, testmail.IdPOptions{}, "flow = \"client_credentials\"")
	dir := filepath.Join(filepath.Dir(f.cfg), "state", "tokens")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if code, out, errOut := run(t, "auth", "login", "--config", f.cfg, "m365"); code != exitOK {
		t.Fatalf("auth login: exit %d\n%s%s", code, out, errOut)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("tokens directory: %v %v, want mode 0700", fi.Mode(), err)
	}
}
