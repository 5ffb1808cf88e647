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

// TestServiceAccountKeyFileErrors: a key file mailtask cannot use is
// refused naming the account, the key and the file, and saying what the
// file is when it is something else Google hands out.
func TestServiceAccountKeyFileErrors(t *testing.T) {
	f := newSAFixture(t, nil)
	good := map[string]any{}
	if err := json.Unmarshal(f.key.JSON(f.idp.GoogleTokenURL()), &good); err != nil {
		t.Fatal(err)
	}
	with := func(k string, v any) []byte {
		m := map[string]any{}
		for key, val := range good {
			m[key] = val
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		data, _ := json.Marshal(m)
		return data
	}
	pemKey := good["private_key"].(string)
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"not JSON", []byte("type = service_account\n"), "is not JSON (at byte 2)"},
		{"PEM", []byte(pemKey), "holds PEM, not a service account's JSON key"},
		{"P12", []byte{0x30, 0x82, 0x09, 0x00}, "a .p12 key is Google's legacy format"},
		{"OAuth client", []byte(`{"installed":{"client_id":"1.apps.googleusercontent.com","client_secret":"GOCSPX-x"}}`), `is an OAuth client's file (a "installed" client`},
		{"web OAuth client", []byte(`{"web":{"client_id":"1.apps.googleusercontent.com"}}`), `(a "web" client`},
		{"gcloud credentials", []byte(`{"type":"authorized_user","client_id":"1","refresh_token":"1//x"}`), "is a user's credentials"},
		{"other type", with("type", "external_account"), `has "type": "external_account", not "service_account"`},
		{"no client_email", with("client_email", nil), `has no "client_email"`},
		{"no token_uri", with("token_uri", nil), `has no "token_uri"`},
		{"plain http token_uri", with("token_uri", "http://oauth2.example.com/token"), `"token_uri" "http://oauth2.example.com/token" must be an https:// URL`},
		{"no private_key", with("private_key", nil), `has no "private_key"`},
		{"private_key not PEM", with("private_key", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"), `"private_key" is not PEM`},
		{"private_key damaged", with("private_key", "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----\n"), `"private_key" does not parse`},
	} {
		t.Run(c.name, func(t *testing.T) {
			f.writeKey(c.data)
			_, err := auth.LoadServiceAccountKey(f.cfg.Accounts["alice"])
			prefix := `account "alice": oauth2.service_account_key_file: ` + f.keyFile + ": "
			if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got  %v\nwant %s…%s", err, prefix, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "MII") {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}
	f.writeKey(f.key.JSON(f.idp.GoogleTokenURL()))
	k, err := auth.LoadServiceAccountKey(f.cfg.Accounts["alice"])
	if err != nil || k.ClientEmail != testmail.ServiceAccountEmail || k.ClientID != testmail.ServiceAccountClientID || k.KeyID != f.key.ID {
		t.Errorf("the good key file: %v, %v", k, err)
	}
}

// TestServiceAccountSecretsNeverShown: the private key and the signed
// grants appear in no debug log, error or printed form, through a token
// issued and each refusal.
func TestServiceAccountSecretsNeverShown(t *testing.T) {
	f := newSAFixture(t, nil)
	ctx := testCtx(t)
	var printed bytes.Buffer
	show := func(vs ...any) {
		for _, v := range vs {
			fmt.Fprintf(&printed, "%v %+v %#v\n", v, v, v)
			slog.New(slog.NewJSONHandler(&printed, nil)).Info("value", "v", v)
			json.NewEncoder(&printed).Encode(v)
		}
	}
	tok, err := f.source("alice").Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := f.source("alice").Record(ctx)
	key, err := auth.LoadServiceAccountKey(f.cfg.Accounts["alice"])
	if err != nil {
		t.Fatal(err)
	}
	show(tok, rec, *rec, key, *key)
	// Refusals: an unknown user, and a key of another account's.
	f.cfg.Accounts["alice"].Username = "nobody@example.com"
	_, err = f.source("alice").Token(ctx)
	show(err)
	other, _ := testmail.NewServiceAccountKey(true)
	f.writeKey(other.JSON(f.idp.GoogleTokenURL()))
	_, err = f.source("alice").FreshToken(ctx)
	show(err)
	if len(f.grants) != 3 || !strings.Contains(f.log.String(), "grant_type="+jwtBearer) {
		t.Fatalf("%d grants posted; log:\n%s", len(f.grants), f.log.String())
	}
	var keyFile map[string]string
	json.Unmarshal(f.key.JSON(""), &keyFile)
	secrets := append([]string{tok.Bearer()}, f.grants...)
	for _, line := range strings.Split(keyFile["private_key"], "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") {
			secrets = append(secrets, line)
		}
	}
	for _, s := range secrets {
		for name, text := range map[string]string{"log": f.log.String(), "printed values": printed.String()} {
			if strings.Contains(text, s) {
				t.Errorf("the %s show a secret (%.12s…)", name, s)
			}
		}
	}
}
