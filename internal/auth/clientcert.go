package auth

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"mailtask/internal/config"
)

// minKeyBits is the smallest RSA key mailtask signs with: what
// New-SelfSignedCertificate, Key Vault and openssl make by default, and
// below which no current guidance keeps a key.
const minKeyBits = 2048

// ClientCertificate is an app's certificate credential: the certificate
// uploaded to the app registration and its private key. It prints as the
// certificate's name and thumbprint, never the key.
type ClientCertificate struct {
	Cert *x509.Certificate
	key  *rsa.PrivateKey
}

// Thumbprint is the certificate's SHA-1 hash in upper-case hex, as the
// Entra admin center shows it under Certificates & secrets and Entra
// names it in AADSTS700027.
func (c *ClientCertificate) Thumbprint() string {
	sum := sha1.Sum(c.Cert.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func (c *ClientCertificate) String() string {
	return fmt.Sprintf("certificate %q, thumbprint %s, valid %s to %s", c.Cert.Subject.String(), c.Thumbprint(),
		c.Cert.NotBefore.UTC().Format(time.DateOnly), c.Cert.NotAfter.UTC().Format(time.DateOnly))
}

// GoString is String, for %#v.
func (c *ClientCertificate) GoString() string { return c.String() }

// LogValue keeps the key out of structured logs.
func (c *ClientCertificate) LogValue() slog.Value { return slog.StringValue(c.String()) }

// UsableAt returns why c cannot sign at now (outside the certificate's
// validity), or nil. Entra refuses a certificate past its end date, so
// mailtask refuses it first, with what to do.
func (c *ClientCertificate) UsableAt(a *config.Account, now time.Time) error {
	at := fmt.Sprintf("account %q: oauth2.client_certificate_file: %s", a.Name, a.OAuth2.ClientCertificateFile)
	switch {
	case now.Before(c.Cert.NotBefore):
		return fmt.Errorf("%s: the certificate (thumbprint %s) is valid only from %s, and this machine's clock says %s: check the clock, or wait", at, c.Thumbprint(), c.Cert.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case now.After(c.Cert.NotAfter):
		return fmt.Errorf("%s: the certificate (thumbprint %s) expired on %s: make a new one, upload its public part to the app registration (Certificates & secrets > Certificates) and replace the file", at, c.Thumbprint(), c.Cert.NotAfter.UTC().Format(time.DateOnly))
	}
	return nil
}

// LoadClientCertificate reads the account's client certificate and its
// key from oauth2.client_certificate_file (and client_key_file): PEM, as
// `openssl pkcs12 -in app.pfx -nodes` prints it or a Kubernetes TLS
// Secret mounts it. It checks that the key is the certificate's and that
// Entra can take it (RSA, at least 2048 bits), not the dates: an expired
// certificate still tells when it expired. Errors name the account, the
// key and the file, never the key's bytes.
func LoadClientCertificate(a *config.Account) (*ClientCertificate, error) {
	o := a.OAuth2
	if o == nil || o.ClientCertificateFile == "" {
		return nil, fmt.Errorf("account %q: no oauth2.client_certificate_file", a.Name)
	}
	fail := func(key, path string, err error) error {
		return fmt.Errorf("account %q: oauth2.%s: %s: %w", a.Name, key, path, err)
	}
	certData, err := os.ReadFile(o.ClientCertificateFile)
	if err != nil {
		return nil, fmt.Errorf("account %q: oauth2.client_certificate_file: %w", a.Name, err)
	}
	keyKey, keyPath, keyData := "client_certificate_file", o.ClientCertificateFile, certData
	if o.ClientKeyFile != "" {
		keyKey, keyPath = "client_key_file", o.ClientKeyFile
		if keyData, err = os.ReadFile(o.ClientKeyFile); err != nil {
			return nil, fmt.Errorf("account %q: oauth2.client_key_file: %w", a.Name, err)
		}
	}
	certs, err := pemCertificates(certData)
	if err != nil {
		return nil, fail("client_certificate_file", o.ClientCertificateFile, err)
	}
	key, err := pemPrivateKey(keyData, o.ClientKeyFile == "")
	if err != nil {
		return nil, fail(keyKey, keyPath, err)
	}
	c, err := pair(certs, key)
	if err != nil {
		if o.ClientKeyFile != "" {
			return nil, fmt.Errorf("account %q: oauth2.client_key_file %s and client_certificate_file %s: %w", a.Name, o.ClientKeyFile, o.ClientCertificateFile, err)
		}
		return nil, fail("client_certificate_file", o.ClientCertificateFile, err)
	}
	return c, nil
}

// convertPFX is how a PKCS#12 file, what the Azure portal and Key Vault
// export, becomes the PEM mailtask reads.
const convertPFX = "openssl pkcs12 -in app.pfx -nodes -out app.pem"

// pemCertificates returns the certificates of a PEM file, the client's
// and any chain with it.
func pemCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("a CERTIFICATE block does not parse: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) > 0 {
		return certs, nil
	}
	if !bytes.Contains(data, []byte("-----BEGIN ")) {
		return nil, notPEM(data)
	}
	return nil, errors.New("holds no certificate (no -----BEGIN CERTIFICATE----- block): it must hold the certificate uploaded to the app registration")
}

// notPEM explains a file that holds no PEM at all: most often a .pfx or
// a DER .cer, the forms Windows and the Azure portal hand out.
func notPEM(data []byte) error {
	if _, err := x509.ParseCertificate(data); err == nil {
		return errors.New("holds a DER certificate (a .cer file) and no private key: convert both from the .pfx with " + convertPFX)
	}
	if len(data) > 0 && data[0] == 0x30 { // an ASN.1 SEQUENCE, as PKCS#12 starts
		return errors.New("is not PEM; if it is a PKCS#12 file (.pfx, .p12), convert it with " + convertPFX)
	}
	return errors.New("is not PEM: it must hold the certificate and its key between -----BEGIN ...----- lines; from a .pfx: " + convertPFX)
}

// pemPrivateKey returns the one RSA private key of a PEM file. shared
// says the file is the certificate's too, which changes the advice for a
// file without a key.
func pemPrivateKey(data []byte, shared bool) (*rsa.PrivateKey, error) {
	var (
		key   *rsa.PrivateKey
		found int
	)
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var (
			parsed any
			err    error
		)
		switch {
		case b.Type == "ENCRYPTED PRIVATE KEY" || strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED"):
			return nil, errors.New("holds an encrypted private key, which mailtask cannot open without a passphrase: export it without one (" + convertPFX + "), and keep the file readable by mailtask's user alone (chmod 600)")
		case b.Type == "PRIVATE KEY":
			parsed, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case b.Type == "RSA PRIVATE KEY":
			parsed, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case b.Type == "EC PRIVATE KEY":
			parsed, err = x509.ParseECPrivateKey(b.Bytes)
		case strings.HasSuffix(b.Type, "PRIVATE KEY"):
			return nil, fmt.Errorf("holds a %q block, which is not a certificate's key: it must be PEM PKCS#8 (PRIVATE KEY) or PKCS#1 (RSA PRIVATE KEY)", b.Type)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("its %s block does not parse: %w", b.Type, err)
		}
		found++
		rk, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("holds an %s key; Microsoft Entra ID takes only RSA certificates for app credentials: make an RSA one (New-SelfSignedCertificate -KeyAlgorithm RSA -KeyLength 2048, or openssl req -x509 -newkey rsa:2048)", keyKind(parsed))
		}
		key = rk
	}
	switch {
	case found > 1:
		return nil, fmt.Errorf("holds %d private keys: it must hold the key of the one certificate only", found)
	case found == 0 && shared:
		return nil, errors.New("holds no private key: put the certificate and its key in one PEM file (" + convertPFX + "), or name the key's file in client_key_file")
	case found == 0:
		return nil, errors.New("holds no private key (no -----BEGIN PRIVATE KEY----- or RSA PRIVATE KEY block)")
	case key.N.BitLen() < minKeyBits:
		return nil, fmt.Errorf("holds a %d-bit RSA key; mailtask signs with %d bits or more: make a new certificate with a longer key", key.N.BitLen(), minKeyBits)
	}
	return key, nil
}

// keyKind names a parsed private key's algorithm for messages.
func keyKind(k any) string {
	name := fmt.Sprintf("%T", k) // *ecdsa.PrivateKey, ed25519.PrivateKey, *ecdh.PrivateKey
	name = strings.TrimPrefix(name, "*")
	name, _, _ = strings.Cut(name, ".")
	return strings.ToUpper(name)
}

// pair returns the certificate among certs whose public key key is.
func pair(certs []*x509.Certificate, key *rsa.PrivateKey) (*ClientCertificate, error) {
	for _, c := range certs {
		if pub, ok := c.PublicKey.(*rsa.PublicKey); ok && pub.Equal(&key.PublicKey) {
			return &ClientCertificate{Cert: c, key: key}, nil
		}
	}
	first := &ClientCertificate{Cert: certs[0]}
	return nil, fmt.Errorf("the private key is not the key of the certificate (%s): the two come from different certificates; take both from the same .pfx (%s)", first.Thumbprint(), convertPFX)
}
