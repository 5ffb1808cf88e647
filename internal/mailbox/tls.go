package mailbox

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"mailtask/internal/config"
)

// TLSConfig returns the client TLS settings for an account: the system
// roots plus the account's ca_file, and the host as the name to verify.
func TLSConfig(a *config.Account) (*tls.Config, error) {
	cfg := &tls.Config{
		ServerName:         a.Host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: a.InsecureSkipVerify,
	}
	if a.CAFile != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(a.CAFile)
		if err != nil {
			return nil, fmt.Errorf("account %q: ca_file: %w", a.Name, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("account %q: ca_file: %s holds no PEM certificate", a.Name, a.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
