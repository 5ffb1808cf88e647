package auth_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
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

// saFixture is Google's token endpoint with the test service account,
// granted domain-wide delegation for Gmail, and a configuration of two
// accounts, one per mailbox of the domain, whose key file it names.
type saFixture struct {
	t       *testing.T
	idp     *testmail.IdP
	key     testmail.ServiceAccountKey
	keyFile string
	cfg     *config.Config
	clock   *clock.Fake
	log     syncBuffer
	// grants are the assertions posted, as the token endpoint got them.
	mu     sync.Mutex
	grants []string
}

func newSAFixture(t *testing.T, sa func(testmail.ServiceAccountKey) testmail.GoogleServiceAccount) *saFixture {
	t.Helper()
	key, err := testmail.NewServiceAccountKey(false)
	if err != nil {
		t.Fatal(err)
	}
	f := &saFixture{t: t, key: key, clock: clock.NewFake(start)}
	if sa == nil {
		sa = func(k testmail.ServiceAccountKey) testmail.GoogleServiceAccount {
			return k.Account(config.ScopeGoogleMail)
		}
	}
	f.idp, err = testmail.StartIdP(testmail.IdPOptions{ServiceAccounts: []testmail.GoogleServiceAccount{sa(key)}, WorkspaceUsers: []string{"alice@example.com", "bob@example.com"}, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.idp.Close() })
	dir := t.TempDir()
	f.keyFile = filepath.Join(dir, "sa.json")
	f.writeKey(key.JSON(f.idp.GoogleTokenURL()))
	text := `state_dir = "state"
[accounts.alice]
host = "imap.gmail.com"
username = "alice@example.com"
auth = "oauth2"
timeout = "10s"
[accounts.alice.oauth2]
provider = "google"
flow = "service_account"
service_account_key_file = "sa.json"
[accounts.bob]
host = "imap.gmail.com"
username = "bob@example.com"
auth = "oauth2"
timeout = "10s"
[accounts.bob.oauth2]
provider = "google"
flow = "service_account"
service_account_key_file = "sa.json"
[[task]]
name = "t"
account = "alice"
destination = "dest"
`
	path := filepath.Join(dir, "mailtask.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if f.cfg, err = config.Load(path); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *saFixture) writeKey(data []byte) {
	f.t.Helper()
	if err := os.WriteFile(f.keyFile, data, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// RoundTrip keeps the assertion of each token request.
func (f *saFixture) RoundTrip(r *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	f.mu.Lock()
	f.grants = append(f.grants, form.Get("assertion"))
	f.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return http.DefaultTransport.RoundTrip(r)
}

func (f *saFixture) source(account string) *auth.Source {
	f.t.Helper()
	src, err := auth.NewSource(f.cfg.Accounts[account], auth.Options{
		StateDir: f.cfg.StateDir, Clock: f.clock, HTTPClient: &http.Client{Transport: f, Timeout: 10 * time.Second},
		Log: slog.New(slog.NewTextHandler(&f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return src
}

const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// TestServiceAccountTokenPerMailbox: each mailbox gets a token of its
// own, acting as its user, kept and reused until near its expiry; a
// token never serves another mailbox, even when an account's username
// changes under a stored one.
func TestServiceAccountTokenPerMailbox(t *testing.T) {
	f := newSAFixture(t, nil)
	ctx := testCtx(t)
	alice, err := f.source("alice").Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := f.source("bob").Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tok  auth.AccessToken
		user string
	}{{alice, "alice@example.com"}, {bob, "bob@example.com"}} {
		g, ok := f.idp.Introspect(c.tok.Bearer())
		if !ok || g.User != c.user || c.tok.User != c.user || c.tok.AppOnly {
			t.Errorf("token %v acts for %q (live %v), want %s", c.tok, g.User, ok, c.user)
		}
	}
	// Reused until ReuseMargin before it expires, by any new source.
	f.clock.Advance(time.Hour - auth.ReuseMargin - time.Minute)
	again, err := f.source("alice").Token(ctx)
	if err != nil || again.Bearer() != alice.Bearer() || f.idp.Requests(jwtBearer) != 2 {
		t.Errorf("second token of alice: reused %v, %d grants, %v", again.Bearer() == alice.Bearer(), f.idp.Requests(jwtBearer), err)
	}
	rec, err := f.source("alice").Record(ctx)
	if err != nil || rec.Flow != config.FlowServiceAccount || rec.User != "alice@example.com" || rec.ClientID != testmail.ServiceAccountClientID || rec.RefreshToken != "" {
		t.Errorf("stored record %+v, %v", rec, err)
	}
	f.clock.Advance(2 * time.Minute)
	if renewed, err := f.source("alice").Token(ctx); err != nil || renewed.Bearer() == alice.Bearer() {
		t.Errorf("near its expiry the token was reused (%v)", err)
	}

	// Account alice now names bob's mailbox: alice's stored token must
	// not open it.
	f.cfg.Accounts["alice"].Username = "bob@example.com"
	moved, err := f.source("alice").Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := f.idp.Introspect(moved.Bearer()); g.User != "bob@example.com" || f.idp.Requests(jwtBearer) != 4 {
		t.Errorf("after the username changed, the token acts for %q (%d grants)", g.User, f.idp.Requests(jwtBearer))
	}
}

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// TestServiceAccountGrant checks the JWT mailtask signs against what
// Google documents: RS256 with kid, iss the service account, sub the
// mailbox, the Gmail scope, aud the key file's token_uri, at most an hour.
func TestServiceAccountGrant(t *testing.T) {
	f := newSAFixture(t, nil)
	if _, err := f.source("alice").Token(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if len(f.grants) != 1 {
		t.Fatalf("%d grants posted", len(f.grants))
	}
	parts := strings.Split(f.grants[0], ".")
	var header, claims map[string]any
	for i, v := range []*map[string]any{&header, &claims} {
		raw, err := base64URL(parts[i])
		if err != nil || json.Unmarshal(raw, v) != nil {
			t.Fatalf("part %d of the JWT: %v", i, err)
		}
	}
	want := map[string]any{"iss": testmail.ServiceAccountEmail, "sub": "alice@example.com", "scope": config.ScopeGoogleMail, "aud": f.idp.GoogleTokenURL(),
		"iat": float64(start.Unix()), "exp": float64(start.Add(time.Hour).Unix())}
	if fmt.Sprint(claims) != fmt.Sprint(want) || header["alg"] != "RS256" || header["kid"] != f.key.ID {
		t.Errorf("header %v\nclaims %v\nwant   %v", header, claims, want)
	}
}

// TestServiceAccountKeyRotation: the key file is read at each token
// request. A key deleted in the console is refused as Google refuses it;
// the new key file, put in its place, is taken without a new source.
func TestServiceAccountKeyRotation(t *testing.T) {
	newKey, err := testmail.NewServiceAccountKey(true)
	if err != nil {
		t.Fatal(err)
	}
	// The account holds only the new key: the old one was deleted.
	f := newSAFixture(t, func(testmail.ServiceAccountKey) testmail.GoogleServiceAccount {
		return newKey.Account(config.ScopeGoogleMail)
	})
	src := f.source("alice")
	_, err = src.FreshToken(testCtx(t))
	var e *auth.Error
	if !errors.As(err, &e) || e.Code != "invalid_grant" || e.Description != testmail.GoogleBadSignature || !strings.Contains(err.Error(), `account "alice": service account token at 127.0.0.1`) {
		t.Fatalf("with the deleted key: %v", err)
	}
	f.writeKey(newKey.JSON(f.idp.GoogleTokenURL()))
	if _, err := src.FreshToken(testCtx(t)); err != nil {
		t.Fatalf("with the new key file: %v", err)
	}
}

// TestServiceAccountRefusals: each of Google's refusals arrives with its
// code and words, for the hints to recognise.
func TestServiceAccountRefusals(t *testing.T) {
	for _, c := range []struct {
		name   string
		sa     func(testmail.ServiceAccountKey) testmail.GoogleServiceAccount
		user   string
		skew   time.Duration
		status int
		code   string
		words  string
	}{
		{"no delegation", func(k testmail.ServiceAccountKey) testmail.GoogleServiceAccount { return k.Account() }, "", 0, 401, "unauthorized_client", testmail.GoogleUnauthorizedClient},
		{"delegation for other scopes", func(k testmail.ServiceAccountKey) testmail.GoogleServiceAccount {
			return k.Account("https://www.googleapis.com/auth/gmail.readonly")
		}, "", 0, 401, "unauthorized_client", testmail.GoogleUnauthorizedClient},
		{"not a user of the domain", nil, "invoices-group@example.com", 0, 400, "invalid_grant", testmail.GoogleUnknownUser},
		{"clock behind", nil, "", -2 * time.Hour, 400, "invalid_grant", testmail.GoogleBadTime},
		{"disabled", func(k testmail.ServiceAccountKey) testmail.GoogleServiceAccount {
			sa := k.Account(config.ScopeGoogleMail)
			sa.Disabled = true
			return sa
		}, "", 0, 400, "invalid_grant", testmail.GoogleNoAccount},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newSAFixture(t, c.sa)
			if c.user != "" {
				f.cfg.Accounts["alice"].Username = c.user
			}
			src := f.source("alice")
			if c.skew != 0 {
				// mailtask's clock is off; the IdP's is right.
				src, _ = auth.NewSource(f.cfg.Accounts["alice"], auth.Options{StateDir: f.cfg.StateDir, Clock: clock.NewFake(start.Add(c.skew))})
			}
			_, err := src.Token(testCtx(t))
			var e *auth.Error
			if !errors.As(err, &e) || e.Status != c.status || e.Code != c.code || e.Description != c.words {
				t.Errorf("got %v (%+v)\nwant %d %s: %s", err, e, c.status, c.code, c.words)
			}
		})
	}
}
