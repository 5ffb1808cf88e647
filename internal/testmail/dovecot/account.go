package dovecot

import (
	"fmt"
	"strings"
)

// AccountTOML returns a mailtask [accounts.NAME] table for user on this
// server over implicit TLS, protocol "imap" or "pop3", trusting the
// server's test CA, so tests need not repeat the address and certificate
// plumbing.
func (s *Server) AccountTOML(name, protocol, user, password string) string {
	addr := s.IMAPSAddr
	if protocol == "pop3" {
		addr = s.POP3SAddr
	}
	return s.AccountTOMLAt(name, protocol, addr, user, password)
}

// AccountTOMLAt is AccountTOML for another address that speaks implicit
// TLS with this server's certificate, such as a fault proxy in front of
// it.
func (s *Server) AccountTOMLAt(name, protocol, addr, user, password string) string {
	host, port, _ := strings.Cut(addr, ":")
	return fmt.Sprintf(`[accounts.%s]
protocol = %q
host = %q
port = %s
ca_file = %q
username = %q
password = %q
timeout = "20s"
`, name, protocol, host, port, s.CACertFile, user, password)
}
