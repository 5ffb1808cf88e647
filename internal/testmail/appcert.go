package testmail

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"
)

// Two fixed RSA keys for app certificates: generating a 2048-bit key
// costs a tenth of a second of CPU, which every test binary would pay.
var (
	//go:embed testdata/app-key.pem
	appKeyPEM []byte
	//go:embed testdata/other-key.pem
	otherKeyPEM []byte
)

// AppCertificate is an app registration's certificate credential: the
// certificate, as uploaded to the IdP (IdPOptions.ClientCertificates),
// and the PEM files mailtask reads.
type AppCertificate struct {
	Cert    *x509.Certificate
	CertPEM []byte // the certificate alone: the public part that is uploaded
	KeyPEM  []byte // its private key, PKCS#8
}

// PEM is the certificate and its key in one file, as `openssl pkcs12
// -nodes` prints a .pfx.
func (c AppCertificate) PEM() []byte { return append(append([]byte{}, c.CertPEM...), c.KeyPEM...) }

// NewAppCertificate makes a self-signed certificate valid from notBefore
// to notAfter, as New-SelfSignedCertificate does, for the test key, or
// for another key when other is set (a certificate the app registration
// does not hold).
func NewAppCertificate(notBefore, notAfter time.Time, other bool) (AppCertificate, error) {
	keyPEM := appKeyPEM
	if other {
		keyPEM = otherKeyPEM
	}
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return AppCertificate{}, fmt.Errorf("testmail: the embedded app key is not PEM")
	}
	key, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return AppCertificate{}, fmt.Errorf("testmail: the embedded app key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return AppCertificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "mailtask"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	signer := key.(crypto.Signer)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), key)
	if err != nil {
		return AppCertificate{}, fmt.Errorf("testmail: make an app certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return AppCertificate{}, err
	}
	return AppCertificate{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), KeyPEM: keyPEM}, nil
}
