package auth_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/testmail"
)

// certFixture is an app registration holding registered (its uploaded
// certificates) and an app-only account that signs in with the
// certificate and key in file.
func certFixture(t *testing.T, clk clock.Clock, idpClock clock.Clock, registered ...testmail.AppCertificate) (*fixture, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "app.pem")
	opts := fixtureOptions{clock: clk, oauth: "flow = \"client_credentials\"\nclient_certificate_file = \"" + file + "\""}
	for _, c := range registered {
		opts.idp.ClientCertificates = append(opts.idp.ClientCertificates, c.Cert)
	}
	opts.idp.Clock = idpClock
	return newFixture(t, opts), file
}

// TestAppOnlyWithCertificate signs in app-only with a certificate: the
// IdP verifies the assertion's signature against the uploaded
// certificate, its claims and its time; the token is stored and reused
// like one a secret got; a rotated certificate is read at the next
// request, without a restart.
func TestAppOnlyWithCertificate(t *testing.T) {
	clk := clock.NewFake(start)
	old := appCert(t, start.AddDate(-1, 0, 0), start.AddDate(1, 0, 0), true)
	cur := appCert(t, start.AddDate(0, -1, 0), start.AddDate(1, 0, 0), false)
	f, file := certFixture(t, clk, nil, cur)

	// The file still holds the certificate the app registration no
	// longer has: Entra's AADSTS700027.
	writeFile(t, file, old.PEM())
	src := f.source()
	_, err := src.Token(testCtx(t))
	var e *auth.Error
	if !errors.As(err, &e) || e.Code != "invalid_client" || !strings.Contains(e.Description, "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '") {
		t.Fatalf("an unregistered certificate: %v", err)
	}

	// Rotated in place: the same source takes the new file.
	writeFile(t, file, cur.PEM())
	tok, err := src.Token(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.idp.AssertionForms(); len(got) != 1 || got[0] != "PS256 x5t#S256" {
		t.Errorf("assertions taken: %q, want one signed PS256 naming the certificate by x5t#S256", got)
	}
	if !tok.AppOnly || len(tok.Roles) == 0 || f.idp.Requests("client_credentials") != 2 {
		t.Errorf("token %v (roles %v) after %d requests; want an app-only token with roles after 2", tok, tok.Roles, f.idp.Requests("client_credentials"))
	}
	if _, err := f.source().Token(testCtx(t)); err != nil || f.idp.Requests("client_credentials") != 2 {
		t.Errorf("next run: %v, %d requests; want the stored token reused", err, f.idp.Requests("client_credentials"))
	}
	// Each new token is a new assertion: the IdP refuses a jti it saw.
	for range 2 {
		if _, err := f.source().FreshToken(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCertificateRefusals: what the client refuses before asking (an
// expired certificate), and what Entra refuses of an assertion made on a
// machine whose clock is off.
func TestCertificateRefusals(t *testing.T) {
	t.Run("expired", func(t *testing.T) {
		clk := clock.NewFake(start)
		expired := appCert(t, start.AddDate(-1, 0, 0), start.AddDate(0, 0, -1), false)
		f, file := certFixture(t, clk, nil, expired)
		writeFile(t, file, expired.PEM())
		_, err := f.source().Token(testCtx(t))
		if err == nil || !strings.Contains(err.Error(), "oauth2.client_certificate_file: "+file+": the certificate (thumbprint "+thumbprint(expired.Cert)+") expired on 2025-01-30") {
			t.Errorf("an expired certificate: %v", err)
		}
		if n := f.idp.Requests("client_credentials"); n != 0 {
			t.Errorf("%d token requests with an expired certificate, want none", n)
		}
	})
	t.Run("clock behind", func(t *testing.T) {
		clk := clock.NewFake(start)
		cert := appCert(t, start.AddDate(0, -1, 0), start.AddDate(1, 0, 0), false)
		f, file := certFixture(t, clk, clock.NewFake(start.Add(time.Hour)), cert)
		writeFile(t, file, cert.PEM())
		_, err := f.source().Token(testCtx(t))
		if err == nil || !strings.Contains(err.Error(), "AADSTS700024: Client assertion is not within its valid time range. Current time: 2025-01-31T09:00:00.0000000Z, assertion valid from 2025-01-31T08:00:00.0000000Z, expiry time of assertion 2025-01-31T08:10:00.0000000Z.") {
			t.Errorf("a clock an hour behind: %v", err)
		}
	})
}

// TestCertificateForOtherServers signs with RS256 and x5t, the form ADFS
// and other RFC 7523 servers take, when the provider is not Microsoft's;
// the assertion's audience is the configured token URL.
func TestCertificateForOtherServers(t *testing.T) {
	cert := appCert(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), false)
	idp, err := testmail.StartIdP(testmail.IdPOptions{Tenant: tenant, ClientCertificates: []*x509.Certificate{cert.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "app.pem"), cert.PEM())
	conf := writeFile(t, filepath.Join(dir, "mailtask.toml"), fmt.Appendf(nil, `state_dir = "state"
[accounts.adfs]
host = "127.0.0.1"
username = %q
auth = "oauth2"
[accounts.adfs.oauth2]
provider = "custom"
flow = "client_credentials"
client_id = %q
client_certificate_file = %q
token_url = %q
scopes = ["https://outlook.office365.com/.default"]
[[task]]
name = "t"
account = "adfs"
destination = "dest"
`, mailboxUser, idp.ClientID(), file, idp.Endpoint(tenant, "token")))
	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	src, err := auth.NewSource(cfg.Accounts["adfs"], auth.Options{StateDir: cfg.StateDir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Token(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := idp.AssertionForms(); len(got) != 1 || got[0] != "RS256 x5t" {
		t.Errorf("assertions signed as %q, want RS256 with x5t", got)
	}
}

// TestDelegatedWithCertificate: an app registered under the Web platform
// (a confidential client) may prove itself with its certificate in the
// delegated flows too: redeeming the code, refreshing, and at each poll
// of a device code, each with an assertion of its own.
func TestDelegatedWithCertificate(t *testing.T) {
	clk := clock.NewFake(start)
	cert := appCert(t, start.AddDate(0, -1, 0), start.AddDate(1, 0, 0), false)
	file := writeFile(t, filepath.Join(t.TempDir(), "app.pem"), cert.PEM())
	idp := testmail.IdPOptions{WebPlatform: true, ClientCertificates: []*x509.Certificate{cert.Cert}, DeviceReplies: []string{"authorization_pending"}}
	f := newFixture(t, fixtureOptions{clock: clk, idp: idp, oauth: "client_certificate_file = \"" + file + "\""})
	f.signIn()
	clk.Advance(2 * time.Hour)
	if _, err := f.source().Token(testCtx(t)); err != nil {
		t.Fatalf("refresh: %v", err)
	}

	src := f.source()
	done := make(chan error, 1)
	shown := make(chan auth.DeviceCode, 1)
	go func() {
		_, err := src.LoginDevice(testCtx(t), func(c auth.DeviceCode) { shown <- c })
		done <- err
	}()
	if err := f.idp.ApproveDevice((<-shown).UserCode); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := clk.WaitForTimers(1, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if _, err := clk.AdvanceToNext(); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("device code: %v", err)
	}
	if got := f.idp.AssertionForms(); len(got) != 4 {
		t.Errorf("%d assertions taken, want 4: the code's, the refresh's and one per poll", len(got))
	}
}
