package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/testmail"
)

const (
	tenant       = "contoso.onmicrosoft.com"
	mailboxUser  = "alice@contoso.com"
	clientSecret = "cs~Q8f.client-secret-value-0123456789"
)

// fixture is a fake identity platform and an account configured for it.
type fixture struct {
	t        *testing.T
	idp      *testmail.IdP
	acct     *config.Account
	cfg      *config.Config
	clock    clock.Clock
	log      *syncBuffer // debug log of every Source the fixture makes
	redirect string
	user     string // the mailbox, and who signs in at the IdP
}

type fixtureOptions struct {
	idp   testmail.IdPOptions
	oauth string // extra lines of the account's oauth2 table
	clock clock.Clock
	// protocol and host of the account (default IMAP on 127.0.0.1:1).
	account string
	user    string // default mailboxUser
}

func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: o.clock, log: &syncBuffer{}, user: o.user}
	if f.user == "" {
		f.user = mailboxUser
	}
	if f.clock == nil {
		f.clock = clock.Real
	}
	f.redirect = testmail.RedirectURL(t)
	o.idp.RedirectURL = f.redirect
	o.idp.Tenant = tenant
	o.idp.User = f.user
	if o.idp.ClientSecret == "" {
		o.idp.ClientSecret = clientSecret
	}
	if o.idp.Clock == nil {
		o.idp.Clock = f.clock
	}
	idp, err := testmail.StartIdP(o.idp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	f.idp = idp
	if o.account == "" {
		o.account = "host = \"127.0.0.1\"\nport = 1\ntls = \"none\""
	}
	if !strings.Contains(o.oauth, "flow") || strings.Contains(o.oauth, "authorization_code") {
		o.oauth += "\nredirect_url = \"" + f.redirect + "\""
	}
	f.writeConfig(o.account, o.oauth)
	return f
}

func (f *fixture) writeConfig(account, oauth string) {
	f.t.Helper()
	dir := f.t.TempDir()
	text := fmt.Sprintf(`state_dir = "state"
[accounts.m365]
%s
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
name = "t"
account = "m365"
destination = "dest"
`, account, f.user, tenant, f.idp.ClientID(), f.idp.Endpoint(tenant, "token"), f.idp.Endpoint(tenant, "authorize"), f.idp.Endpoint(tenant, "devicecode"), oauth)
	path := filepath.Join(dir, "mailtask.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		f.t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.cfg, f.acct = cfg, cfg.Accounts["m365"]
}

func (f *fixture) options() auth.Options {
	return auth.Options{
		StateDir: f.cfg.StateDir,
		Clock:    f.clock,
		Log:      slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func (f *fixture) source() *auth.Source {
	f.t.Helper()
	src, err := auth.NewSource(f.acct, f.options())
	if err != nil {
		f.t.Fatal(err)
	}
	return src
}

// signIn runs the browser sign-in end to end: the "browser" is an HTTP
// client that follows the sign-in URL through the IdP's redirect to the
// source's own listener.
func (f *fixture) signIn() *auth.Record {
	f.t.Helper()
	rec, err := f.source().LoginBrowser(testCtx(f.t), func(signIn string) { browse(f.t, signIn, http.StatusOK) })
	if err != nil {
		f.t.Fatalf("sign-in: %v", err)
	}
	return rec
}

// browse follows url like a browser and checks where it ended.
func browse(t *testing.T, url string, wantStatus int) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Errorf("browser: %v", err)
		return ""
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Errorf("browser ended at %s with status %d, want %d: %s", resp.Request.URL, resp.StatusCode, wantStatus, body.String())
	}
	return body.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// storedTokens reads the raw token file, tokens and all.
func (f *fixture) storedTokens() (access, refresh string) {
	f.t.Helper()
	data, err := os.ReadFile(auth.Store{Dir: auth.StoreDir(f.cfg.StateDir)}.Path("m365"))
	if err != nil {
		f.t.Fatal(err)
	}
	var raw struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		f.t.Fatal(err)
	}
	return raw.Access, raw.Refresh
}
