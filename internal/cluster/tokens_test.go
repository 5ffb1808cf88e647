package cluster_test

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/cluster"
	"mailtask/internal/testmail"
)

// idpFixture is the fake identity platform, which rotates refresh tokens
// on every use and refuses one used before, as Microsoft may.
type idpFixture struct {
	idp      *testmail.IdP
	redirect string
}

func startIdP(t *testing.T, certs ...*x509.Certificate) *idpFixture {
	t.Helper()
	// Below the range of outgoing connections' source ports, one of which
	// could take a port closed here before the sign-in listens on it.
	redirect := testmail.RedirectURL(t)
	idp, err := testmail.StartIdP(testmail.IdPOptions{RedirectURL: redirect, ClientSecret: "app-secret", ClientCertificates: certs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	return &idpFixture{idp: idp, redirect: redirect}
}

// account is the TOML of an OAuth2 account named name at the IdP; extra
// lines go to its oauth2 table.
func (f *idpFixture) account(name, extra string) string {
	return fmt.Sprintf(`[accounts.%s]
host = "127.0.0.1"
port = 1
tls = "none"
username = %q
auth = "oauth2"
timeout = "10s"
[accounts.%s.oauth2]
tenant = %q
client_id = %q
token_url = %q
auth_url = %q
%s
[[task]]
name = %q
account = %q
destination = "dest-%s"
`, name, f.idp.User(), name, f.idp.Tenant(), f.idp.ClientID(), f.idp.Endpoint(f.idp.Tenant(), "token"),
		f.idp.Endpoint(f.idp.Tenant(), "authorize"), extra, name, name, name)
}

// gate holds the first request sent through it until hold returns.
type gate struct {
	once sync.Once
	hold func()
}

func (g *gate) RoundTrip(r *http.Request) (*http.Response, error) {
	g.once.Do(g.hold)
	return http.DefaultTransport.RoundTrip(r)
}

func TestARotatingRefreshTokenIsSpentOnceAcrossNodes(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	f := startIdP(t)
	cfg := clusterConfig(t, url, "", f.account("m365", fmt.Sprintf("redirect_url = %q", f.redirect)))
	acct := cfg.Accounts["m365"]
	nodes := []*cluster.Node{openNode(t, cfg, "node-a"), openNode(t, cfg, "node-b")}

	// Signed in once, on node a: the tokens are in the database, sealed.
	first, err := auth.NewSource(acct, auth.Options{Tokens: nodes[0].Tokens()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.LoginBrowser(ctx, func(u string) {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
		}
	}); err != nil {
		t.Fatal(err)
	}
	// The access token has run out: the next use renews it.
	err = nodes[0].Tokens().Update(ctx, auth.KeyOf(acct), func(r *auth.Record) (*auth.Record, error) {
		r.Expiry = time.Now().Add(-time.Minute)
		return r, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Both nodes need a token at once. Whichever asks the identity
	// platform first is held there until the other waits for the token's
	// row: without that lock both would spend the same refresh token, and
	// the platform refuses the second.
	var wg sync.WaitGroup
	tokens := make([]auth.AccessToken, 2)
	errs := make([]error, 2)
	g := &gate{hold: func() { waitForLockWaiter(ctx, url) }}
	for i, n := range nodes {
		src, err := auth.NewSource(acct, auth.Options{Tokens: n.Tokens(), HTTPClient: &http.Client{Transport: g, Timeout: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { tokens[i], errs[i] = src.Token(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	if n := f.idp.Requests("refresh_token"); n != 1 {
		t.Errorf("the refresh token was redeemed %d times, want once", n)
	}
	if tokens[0].Bearer() != tokens[1].Bearer() || tokens[0].Expiry.Before(time.Now()) {
		t.Errorf("the nodes got different or stale access tokens (%v, %v)", tokens[0], tokens[1])
	}
	if _, ok := f.idp.Introspect(tokens[0].Bearer()); !ok {
		t.Error("the identity platform does not know the access token the nodes use")
	}
	// The database holds the tokens sealed, never in the clear.
	rec, err := nodes[1].Tokens().Load(ctx, auth.KeyOf(acct))
	if err != nil || rec == nil || rec.RefreshToken == "" {
		t.Fatalf("stored record %v, %v", rec, err)
	}
	if raw := rawTokens(t, url); bytes.Contains(raw, []byte(string(rec.RefreshToken))) || bytes.Contains(raw, []byte(tokens[0].Bearer())) {
		t.Error("the database holds a token in the clear")
	}
}

func TestAppOnlyTokensAreSharedByTheAppsAccounts(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	// One account proves the app with its certificate, the other with its
	// secret: the token is the app's either way, and keyed so.
	cert, err := testmail.NewAppCertificate(time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "app.pem")
	if err := os.WriteFile(certFile, cert.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	f := startIdP(t, cert.Cert)
	app := "flow = \"client_credentials\"\nclient_secret = \"app-secret\""
	cfg := clusterConfig(t, url, "", f.account("shared-a", "flow = \"client_credentials\"\nclient_certificate_file = \""+certFile+"\"")+f.account("shared-b", app))
	a, b := openNode(t, cfg, "node-a"), openNode(t, cfg, "node-b")
	for _, use := range []struct {
		node    *cluster.Node
		account string
	}{{a, "shared-a"}, {b, "shared-b"}, {b, "shared-a"}} {
		src, err := auth.NewSource(cfg.Accounts[use.account], auth.Options{Tokens: use.node.Tokens()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.Token(ctx); err != nil {
			t.Fatalf("%s: %v", use.account, err)
		}
	}
	if n := f.idp.Requests("client_credentials"); n != 1 {
		t.Errorf("%d app-only tokens asked for, want 1 for every mailbox of the app on every node", n)
	}
}

// rawTokens is everything the token tables hold, as bytes.
func rawTokens(t *testing.T, url string) []byte {
	t.Helper()
	var all []byte
	query(t, url, func(row []byte) { all = append(all, row...) },
		"SELECT coalesce(sealed, '') FROM oauth_tokens UNION ALL SELECT coalesce(sealed, '') FROM app_tokens")
	return all
}

// TestServiceAccountTokensPerMailboxAcrossNodes: two mailboxes of one
// Google service account, used from two nodes: each mailbox's token is
// asked for once across the cluster and reused by the other node, acts
// as that mailbox's user alone, and is sealed in the database.
func TestServiceAccountTokensPerMailboxAcrossNodes(t *testing.T) {
	url := migratedDB(t)
	ctx := testContext(t)
	key, err := testmail.NewServiceAccountKey(false)
	if err != nil {
		t.Fatal(err)
	}
	idp, err := testmail.StartIdP(testmail.IdPOptions{ServiceAccounts: []testmail.GoogleServiceAccount{key.Account("https://mail.google.com/")}, WorkspaceUsers: []string{"alice@example.com", "bob@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	keyFile := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(keyFile, key.JSON(idp.GoogleTokenURL()), 0o600); err != nil {
		t.Fatal(err)
	}
	var body string
	for _, name := range []string{"alice", "bob"} {
		body += fmt.Sprintf("[accounts.%[1]s]\nhost = \"imap.gmail.com\"\nusername = \"%[1]s@example.com\"\nauth = \"oauth2\"\n[accounts.%[1]s.oauth2]\nprovider = \"google\"\nflow = \"service_account\"\nservice_account_key_file = %[2]q\n[[task]]\nname = %[1]q\naccount = %[1]q\ndestination = \"dest-%[1]s\"\n", name, keyFile)
	}
	cfg := clusterConfig(t, url, "", body)
	a, b := openNode(t, cfg, "node-a"), openNode(t, cfg, "node-b")
	got := map[string]string{}
	for _, use := range []struct {
		node    *cluster.Node
		account string
	}{{a, "alice"}, {b, "bob"}, {b, "alice"}, {a, "bob"}} {
		src, err := auth.NewSource(cfg.Accounts[use.account], auth.Options{Tokens: use.node.Tokens()})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := src.Token(ctx)
		if err != nil {
			t.Fatalf("%s: %v", use.account, err)
		}
		if prev, ok := got[use.account]; ok && prev != tok.Bearer() {
			t.Errorf("%s: the second node got a token of its own", use.account)
		}
		got[use.account] = tok.Bearer()
		if g, _ := idp.Introspect(tok.Bearer()); g.User != use.account+"@example.com" {
			t.Errorf("%s's token acts for %q", use.account, g.User)
		}
	}
	if n := idp.Requests("urn:ietf:params:oauth:grant-type:jwt-bearer"); n != 2 || got["alice"] == got["bob"] {
		t.Errorf("%d tokens asked for, want one per mailbox for both nodes", n)
	}
	if raw := rawTokens(t, url); bytes.Contains(raw, []byte(got["alice"])) || bytes.Contains(raw, []byte(got["bob"])) {
		t.Error("the database holds a token in the clear")
	}
}
