package mailbox

import (
	"crypto/tls"
	"sync"

	"mailtask/internal/config"
)

// TLSCache keeps the client TLS settings of accounts for a process that
// connects to the same servers again and again (the daemon): their roots
// are read once rather than for each connection (the system's, and the
// account's ca_file), and a connection resumes the session the server
// gave the last one (a TLS 1.3 ticket), which skips the verification of
// the server's certificate chain and signature on both sides. Accounts of
// one server with the same trust settings share settings and sessions: a
// session is TLS's, not a sign-in. A nil *TLSCache makes fresh settings
// for each connection (TLSConfig), as a one-off command does.
type TLSCache struct {
	mu      sync.Mutex
	configs map[tlsKey]*tls.Config
}

// tlsKey is what an account's TLS settings depend on.
type tlsKey struct {
	host, caFile string
	insecure     bool
}

// NewTLSCache returns an empty cache.
func NewTLSCache() *TLSCache { return &TLSCache{configs: map[tlsKey]*tls.Config{}} }

// sessionsKept bounds the sessions kept per server and trust settings:
// the newest ticket is the one resumed.
const sessionsKept = 4

// Config returns the client TLS settings for a, as TLSConfig makes them,
// with a session cache; the caller must not change them.
func (c *TLSCache) Config(a *config.Account) (*tls.Config, error) {
	if c == nil {
		return TLSConfig(a)
	}
	key := tlsKey{host: a.Host, caFile: a.CAFile, insecure: a.InsecureSkipVerify}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg := c.configs[key]; cfg != nil {
		return cfg, nil
	}
	cfg, err := TLSConfig(a)
	if err != nil {
		return nil, err
	}
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(sessionsKept)
	c.configs[key] = cfg
	return cfg, nil
}
