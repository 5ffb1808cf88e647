package mailbox

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/demo"
)

// handshake dials a TLS server on loopback presenting ca's certificate,
// with the settings TLSConfig gives an account of host trusting caFile,
// and returns the handshake's error.
func handshake(t *testing.T, ca *demo.CA, host, caFile string) error {
	t.Helper()
	l, err := tls.Listen("tcp", "127.0.0.1:0", ca.ServerTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	cfg, err := TLSConfig(&config.Account{Name: "a", Host: host, CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", l.Addr().String(), cfg)
	if err == nil {
		c.Close()
	}
	return err
}

func writeCA(t *testing.T, ca *demo.CA) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Every run read and parsed the system's roots (35-40 ms) to verify a
// server whose certificate the account's ca_file vouches for. They are
// read now only for a certificate the ca_file does not verify, and the
// failures are the ones crypto/tls reports, which the hints recognise.
func TestCAFileVerifiesWithoutTheSystemRoots(t *testing.T) {
	loads := 0
	defer func(was func() (*x509.CertPool, error)) { systemRoots = was }(systemRoots)
	systemRoots = func() (*x509.CertPool, error) {
		loads++
		return x509.NewCertPool(), nil
	}
	ca, err := demo.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	caFile := writeCA(t, ca)
	if err := handshake(t, ca, "localhost", caFile); err != nil || loads != 0 {
		t.Fatalf("handshake with the ca_file's server: %v, system roots read %d times; want success without them", err, loads)
	}

	var cert *tls.CertificateVerificationError
	var hostname x509.HostnameError
	// An IP address is sent no SNI: the name to verify is the host's all
	// the same.
	for _, host := range []string{"not-on-the-certificate.example", "127.0.0.2"} {
		if err := handshake(t, ca, host, caFile); !errors.As(err, &cert) || !errors.As(err, &hostname) {
			t.Errorf("handshake for %s, not on the certificate: %v (%T), want a certificate verification error for the host name", host, err, err)
		}
	}
	other, err := demo.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	var authority x509.UnknownAuthorityError
	err = handshake(t, other, "localhost", caFile)
	if !errors.As(err, &cert) || !errors.As(err, &authority) {
		t.Errorf("handshake with another CA's server: %v (%T), want a certificate verification error for an unknown authority", err, err)
	}
	if loads != 3 {
		t.Errorf("system roots read %d times, want 3, for the three certificates the ca_file does not verify", loads)
	}
}

// A certificate that only the system's roots verify is still trusted
// when the account has a ca_file.
func TestCAFileAddsToTheSystemRoots(t *testing.T) {
	system, err := demo.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	defer func(was func() (*x509.CertPool, error)) { systemRoots = was }(systemRoots)
	systemRoots = func() (*x509.CertPool, error) { return system.Pool.Clone(), nil }
	private, err := demo.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(t, system, "localhost", writeCA(t, private)); err != nil {
		t.Fatalf("handshake with a server the system's roots vouch for: %v", err)
	}
	var cert *tls.CertificateVerificationError
	if err := handshake(t, private, "localhost", writeCA(t, system)); !errors.As(err, &cert) {
		t.Fatalf("handshake with a server neither vouches for: %v, want a certificate verification error", err)
	}
}
