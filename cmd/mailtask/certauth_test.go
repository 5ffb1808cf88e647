package main

import (
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/testmail"
)

// certConfig is a configuration whose account m365 signs in app-only at
// idp with the certificate in certFile.
func certConfig(t *testing.T, dir string, idp *testmail.IdP, certFile string) string {
	t.Helper()
	return writeFile(t, dir, "mailtask.toml", fmt.Sprintf(`state_dir = "state"
[accounts.m365]
host = "127.0.0.1"
username = %q
auth = "oauth2"
[accounts.m365.oauth2]
flow = "client_credentials"
tenant = %q
client_id = %q
client_certificate_file = %q
token_url = %q
[[task]]
name = "invoices"
account = "m365"
destination = "out"
`, oauthUser, oauthTenant, idp.ClientID(), certFile, idp.Endpoint(oauthTenant, "token")))
}

// TestCertificateCommands: validate reads the certificate where it is and
// refuses one Entra would; auth login proves it with a new token; auth
// status and the metrics show its thumbprint and end date, and warn a
// month before it.
func TestCertificateCommands(t *testing.T) {
	now := time.Now()
	cert, err := testmail.NewAppCertificate(now.Add(-time.Hour), now.AddDate(0, 0, 20), false)
	if err != nil {
		t.Fatal(err)
	}
	idp, err := testmail.StartIdP(testmail.IdPOptions{Tenant: oauthTenant, ClientCertificates: []*x509.Certificate{cert.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	dir := t.TempDir()
	certFile := writeFile(t, dir, "app.pem", string(cert.PEM()))
	cfg := certConfig(t, dir, idp, certFile)
	thumb := (&auth.ClientCertificate{Cert: cert.Cert}).Thumbprint()

	code, out, errOut := run(t, "validate", "--config", cfg)
	if code != exitOK || !strings.Contains(errOut, "the client certificate of account \"m365\" (thumbprint "+thumb+") expires on") {
		t.Errorf("validate: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, "auth", "login", "--config", cfg, "m365")
	if code != exitOK || !strings.Contains(out, "its certificate...") || !strings.Contains(out, "ok: the identity platform issued an app-only token") || idp.Requests("client_credentials") != 1 {
		t.Errorf("auth login: exit %d, %d token requests\n%s%s", code, idp.Requests("client_credentials"), out, errOut)
	}
	code, out, errOut = run(t, "auth", "status", "--config", cfg)
	if !strings.Contains(out, "certificate    CN=mailtask, thumbprint "+thumb+", expires "+cert.Cert.NotAfter.Local().Format(time.DateOnly)) || !strings.Contains(out+errOut, "expires on") {
		t.Errorf("auth status: exit %d\n%s%s", code, out, errOut)
	}
	loaded, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range credentials(loaded, auth.Store{Dir: auth.StoreDir(loaded.StateDir)}) {
		found = found || c.Kind == "client_certificate" && c.Account == "m365" && c.Expires.Equal(cert.Cert.NotAfter)
	}
	if !found {
		t.Errorf("the metrics' credentials lack the certificate: %+v", credentials(loaded, auth.Store{Dir: auth.StoreDir(loaded.StateDir)}))
	}

	// The key of another certificate: refused by validate, naming the file.
	other, err := testmail.NewAppCertificate(now.Add(-time.Hour), now.AddDate(1, 0, 0), true)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "app.pem", string(cert.CertPEM)+string(other.KeyPEM))
	code, _, errOut = run(t, "validate", "--config", cfg)
	if code == exitOK || !strings.Contains(errOut, cfg+`: account "m365": oauth2.client_certificate_file: `+certFile+": the private key is not the key of the certificate") {
		t.Errorf("validate with another key: exit %d\n%s", code, errOut)
	}
	// Not on this machine: a warning, since validate may run elsewhere.
	cfg = certConfig(t, t.TempDir(), idp, filepath.Join(dir, "absent.pem"))
	code, _, errOut = run(t, "validate", "--config", cfg)
	if code != exitOK || !strings.Contains(errOut, "warning: account \"m365\": oauth2.client_certificate_file: open ") {
		t.Errorf("validate without the file: exit %d\n%s", code, errOut)
	}
}
