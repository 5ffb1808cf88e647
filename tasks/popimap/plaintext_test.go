package popimap

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
	"mailtask/internal/testmail/servers/mailutils"
)

// plainConfig points a task at addr with tls, the account's password
// user's on d; the CA is d's, for STARTTLS.
func plainConfig(t *testing.T, d *dovecot.Server, protocol, addr, tls, user string) *config.Config {
	t.Helper()
	return taskConfig(t, "d", accountTOML("d", protocol, addr, tls, d.CACertFile, user, dovecotPassword(d, user)))
}

// accountTOML is an [accounts.NAME] table for addr with tls; caFile may
// be empty.
func accountTOML(name, protocol, addr, tls, caFile, user, password string) string {
	host, port, _ := strings.Cut(addr, ":")
	text := fmt.Sprintf("[accounts.%s]\nprotocol = %q\nhost = %q\nport = %s\ntls = %q\nusername = %q\npassword = %q\ntimeout = \"20s\"\n",
		name, protocol, host, port, tls, user, password)
	if caFile != "" {
		text += fmt.Sprintf("ca_file = %q\n", caFile)
	}
	return text
}

// A plain-text connection to a port that speaks TLS fails within seconds,
// saying so, rather than after the account's whole timeout with "no
// greeting".
func TestPlainTextToTLSPort(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	for _, c := range []struct{ protocol, addr, tls string }{
		{config.ProtocolIMAP, d.IMAPSAddr, config.TLSNone},
		{config.ProtocolIMAP, d.IMAPSAddr, config.TLSStartTLS},
		{config.ProtocolPOP3, d.POP3SAddr, config.TLSNone},
	} {
		t.Run(c.protocol+"-"+c.tls, func(t *testing.T) {
			t.Parallel() // each waits out the quiet seconds
			_, err := runOnce(plainConfig(t, d, c.protocol, c.addr, c.tls, d.User))
			if !errors.Is(err, mailbox.ErrTLSPort) || mailbox.IsTransient(err) {
				t.Fatalf("run: %v (transient %v); want the TLS port recognised, not retried", err, mailbox.IsTransient(err))
			}
			if hint := diagnose.Hint(err); !strings.Contains(hint, `tls = "implicit"`) {
				t.Errorf("hint %q", hint)
			}
		})
	}
}

// A server that takes no password over plain text says so (IMAP's
// LOGINDISABLED; POP3's CAPA listing STLS without USER), as GNU Mailutils
// does with login-disabled and tls-mode required: the password is never
// sent, and the error names tls. The proxy in front of the server would
// answer LOGIN or USER itself had either reached it.
func TestPasswordNotSentWhereThePlainTextLoginIsDisabled(t *testing.T) {
	tlsConf := `tls { ssl-certificate-file "{DIR}/cert.pem"; ssl-key-file "{DIR}/key.pem"; };` + "\n"
	for _, c := range []struct{ protocol, extra, on, reply string }{
		{config.ProtocolIMAP, "login-disabled yes;\ntls-mode stls;\n", "LOGIN", "{tag} NO the password reached the server"},
		{config.ProtocolPOP3, "tls-mode required;\n", "USER", "-ERR the user name reached the server"},
	} {
		t.Run(c.protocol, func(t *testing.T) {
			s := mailutils.Start(t, mailutils.Options{Users: map[string]string{"alice": mailutilsPassword}, Extra: c.extra + tlsConf})
			target := s.IMAPAddr
			if c.protocol == config.ProtocolPOP3 {
				target = s.POP3Addr
			}
			p, err := testmail.StartFaultProxy(testmail.FaultProxyOptions{Target: target,
				Faults: []testmail.Fault{{Kind: testmail.FaultAnswer, On: c.on, Reply: c.reply}}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			cfg := mailutilsConfig(t, s, c.protocol, mailutilsPassword)
			a := cfg.Accounts["mu"]
			host, port, _ := strings.Cut(p.Addr(), ":")
			a.Host, a.Port = host, atoi(t, port)
			_, err = runOnce(cfg)
			if p.Struck() != 0 {
				t.Fatalf("%s was sent over plain text: %v", c.on, err)
			}
			if err == nil || !strings.Contains(err.Error(), "no password was sent") || mailbox.IsTransient(err) {
				t.Fatalf("run: %v; want the plain-text login refused before it, not retried", err)
			}
			if hint := diagnose.Hint(err); !strings.Contains(hint, `tls = "starttls"`) {
				t.Errorf("hint %q", hint)
			}
		})
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
