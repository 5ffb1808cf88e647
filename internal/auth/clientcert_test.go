package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/testmail"
)

// appCert makes a certificate of the test key valid around now.
func appCert(t *testing.T, from, until time.Time, other bool) testmail.AppCertificate {
	t.Helper()
	c, err := testmail.NewAppCertificate(from, until, other)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func certAccount(certFile, keyFile string) *config.Account {
	return &config.Account{Name: "app", OAuth2: &config.OAuth2{Provider: config.ProviderMicrosoft, ClientCertificateFile: certFile, ClientKeyFile: keyFile}}
}

// TestLoadClientCertificate reads the files an admin has, and refuses
// each one Entra could not take with the account, the key and the file
// named, and what to do.
func TestLoadClientCertificate(t *testing.T) {
	now := time.Now()
	good := appCert(t, now.Add(-time.Hour), now.Add(365*24*time.Hour), false)
	other := appCert(t, now.Add(-time.Hour), now.Add(365*24*time.Hour), true)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	smallKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	dir := t.TempDir()
	file := func(name string, parts ...[]byte) string {
		var all []byte
		for _, p := range parts {
			all = append(all, p...)
		}
		return writeFile(t, filepath.Join(dir, name), all)
	}
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	bagAttributes := []byte("Bag Attributes\n    localKeyID: 01 00 00 00\nsubject=CN = mailtask\nissuer=CN = mailtask\n")

	for _, c := range []struct {
		name, cert, key string
		want            string // "" for success
	}{
		{"openssl pkcs12 -nodes output", file("nodes.pem", bagAttributes, good.CertPEM, bagAttributes, good.KeyPEM), "", ""},
		{"Kubernetes TLS Secret", file("tls.crt", good.CertPEM), file("tls.key", good.KeyPEM), ""},
		{"PKCS#1 key", file("pkcs1.pem", good.CertPEM, pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(parseKey(t, good.KeyPEM)))), "", ""},
		{"chain before the certificate", file("chain.pem", other.CertPEM, good.CertPEM, good.KeyPEM), "", ""},
		{"missing", filepath.Join(dir, "absent.pem"), "", `account "app": oauth2.client_certificate_file: open ` + filepath.Join(dir, "absent.pem")},
		{"key alone", file("key.pem", good.KeyPEM), "", "key.pem: holds no certificate"},
		{"certificate alone", file("cert.pem", good.CertPEM), "", "oauth2.client_certificate_file: " + filepath.Join(dir, "cert.pem") + ": holds no private key: put the certificate and its key in one PEM file"},
		{"key file without a key", file("c2.pem", good.CertPEM), file("k2.pem", good.CertPEM), "oauth2.client_key_file: " + filepath.Join(dir, "k2.pem") + ": holds no private key"},
		{"another certificate's key", file("mixed.pem", good.CertPEM, other.KeyPEM), "", "the private key is not the key of the certificate (" + thumbprint(good.Cert) + ")"},
		{"split files of two certificates", file("c3.pem", good.CertPEM), file("k3.pem", other.KeyPEM), "oauth2.client_key_file " + filepath.Join(dir, "k3.pem") + " and client_certificate_file " + filepath.Join(dir, "c3.pem") + ": the private key is not the key"},
		{"EC key", file("ec.pem", good.CertPEM, pemOf("EC PRIVATE KEY", ecDER)), "", "holds an ECDSA key; Microsoft Entra ID takes only RSA certificates"},
		{"short key", file("short.pem", good.CertPEM, pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(smallKey))), "", "holds a 1024-bit RSA key; mailtask signs with 2048 bits or more"},
		{"encrypted key", file("enc.pem", good.CertPEM, pemOf("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3})), "", "holds an encrypted private key"},
		{"two keys", file("two.pem", good.CertPEM, good.KeyPEM, other.KeyPEM), "", "holds 2 private keys"},
		{"DER certificate", file("app.cer", good.Cert.Raw), "", "holds a DER certificate (a .cer file) and no private key: convert both from the .pfx with openssl pkcs12 -in app.pfx -nodes -out app.pem"},
		{"PKCS#12", file("app.pfx", []byte{0x30, 0x82, 0x0a, 0x01, 0x02, 0x01, 0x03}), "", "app.pfx: is not PEM; if it is a PKCS#12 file (.pfx, .p12), convert it with openssl pkcs12"},
		{"damaged certificate", file("bad.pem", pemOf("CERTIFICATE", []byte{0x30, 1, 2}), good.KeyPEM), "", "a CERTIFICATE block does not parse"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := auth.LoadClientCertificate(certAccount(c.cert, c.key))
			switch {
			case c.want == "" && err != nil:
				t.Fatal(err)
			case c.want == "":
				if got.Thumbprint() != thumbprint(good.Cert) {
					t.Errorf("took the certificate %s, want %s", got.Thumbprint(), thumbprint(good.Cert))
				}
			case err == nil:
				t.Fatalf("accepted, want %q", c.want)
			case !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `account "app"`):
				t.Errorf("error %q\nwant it to name the account and hold %q", err, c.want)
			}
		})
	}
}

func parseKey(t *testing.T, keyPEM []byte) *rsa.PrivateKey {
	t.Helper()
	b, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

func thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// TestCertificateExpiryWarning warns from 30 days before the
// certificate's own end date, and of a certificate out of its dates or a
// file that does not load.
func TestCertificateExpiryWarning(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	for _, c := range []struct {
		name        string
		from, until time.Time
		want        string
	}{
		{"far", now.AddDate(0, -1, 0), now.AddDate(1, 0, 0), ""},
		{"soon", now.AddDate(0, -1, 0), now.AddDate(0, 0, 20), "expires on 2026-12-21, in 20 days: make a new one, upload its public part"},
		{"expired", now.AddDate(-1, 0, 0), now.AddDate(0, 0, -2), "expired on 2026-11-29: make a new one"},
		{"not yet valid", now.Add(time.Hour), now.AddDate(1, 0, 0), "is valid only from 2026-12-01T13:00:00Z, and this machine's clock says 2026-12-01T12:00:00Z"},
	} {
		c := c
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(dir, c.name+".pem"), appCert(t, c.from, c.until, false).PEM())
			got := auth.CredentialExpiryWarning(certAccount(path, ""), now)
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) || (got != "" && !strings.Contains(got, `account "app"`)) {
				t.Errorf("warning %q, want %q", got, c.want)
			}
		})
	}
	if got := auth.CredentialExpiryWarning(certAccount(filepath.Join(dir, "absent.pem"), ""), now); !strings.Contains(got, "oauth2.client_certificate_file") {
		t.Errorf("a missing file: warning %q", got)
	}
}
