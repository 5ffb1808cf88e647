package diagnose_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailtask/internal/auth"
	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	mimap "mailtask/internal/mailbox/imap"
	"mailtask/internal/mailbox/pop3"
	"mailtask/internal/notify"
	"mailtask/internal/testmail"
	"mailtask/tasks/popimap"
)

// This file makes each failure the way mailtask receives it: a real IMAP,
// POP3 or SMTP exchange with an in-process server that answers with the
// reply under test, a token request to the fake identity platform that
// answers with Entra's JSON error, a real TLS handshake or dial.

const (
	mailboxUser = "invoices@contoso.com"
	password    = "pw-for-tests"
	secret      = "cs~Q8f.client-secret-value-0123456789"
)

// local is the host of servers that are not Microsoft's; microsoft the
// one tests reach in a namespace of their own (testmail.WithMicrosoftHosts).
const (
	local     = "127.0.0.1"
	microsoft = "outlook.office365.com"
	msSMTP    = "smtp.office365.com"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// loadAccount writes a configuration with account "a" (the given TOML
// lines) and a task for it, and loads it as mailtask would.
func loadAccount(t *testing.T, lines string) (*config.Config, *config.Account) {
	t.Helper()
	dir := t.TempDir()
	text := "state_dir = \"state\"\n[accounts.a]\n" + lines + "\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n"
	path := filepath.Join(dir, "mailtask.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return cfg, cfg.Accounts["a"]
}

// serverAccount is the TOML of an IMAP or POP3 account at host on the
// port of addr over implicit TLS, trusting ca.
func serverAccount(t *testing.T, ca *testmail.CA, protocol, host, addr string) string {
	t.Helper()
	caFile, err := ca.WriteCertFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(addr)
	return fmt.Sprintf("protocol = %q\nhost = %q\nport = %s\nca_file = %q\nusername = %q\ntimeout = \"5s\"\n", protocol, host, port, caFile, mailboxUser)
}

func newCA(t *testing.T) *testmail.CA {
	t.Helper()
	ca, err := testmail.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// imapServer starts an IMAP server over implicit TLS.
func imapServer(t *testing.T, ca *testmail.CA, opts testmail.IMAPOptions) *testmail.IMAPServer {
	t.Helper()
	opts.TLS, opts.Username, opts.Password = ca.ServerTLS, mailboxUser, password
	srv, err := testmail.StartIMAP(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// imapSignIn signs in to srv as host with cred and returns the error.
func imapSignIn(t *testing.T, ca *testmail.CA, srv *testmail.IMAPServer, host string, cred auth.Credential) error {
	t.Helper()
	_, acct := loadAccount(t, serverAccount(t, ca, "imap", host, srv.Addr)+"password = \"unused\"")
	s, err := mimap.Dial(ctxFor(t), acct, cred)
	if err == nil {
		s.Logout(ctxFor(t))
		t.Fatal("the sign-in succeeded")
	}
	return err
}

// imapLoginRefused is the server's reply to LOGIN with a password.
func imapLoginRefused(host string, code imap.ResponseCode, text string) func(*testing.T) error {
	return func(t *testing.T) error {
		ca := newCA(t)
		srv := imapServer(t, ca, testmail.IMAPOptions{Fault: func(cmd string) error {
			if cmd == "LOGIN" {
				return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: text}
			}
			return nil
		}})
		return imapSignIn(t, ca, srv, host, auth.Password(mailboxUser, password))
	}
}

// imapTokenRefused is a refusal of a token: the server's check says no
// (a JSON failure challenge, then "NO AUTHENTICATE failed."), or, with
// reply, it accepts the token and answers AUTHENTICATE with reply.
func imapTokenRefused(host string, reply *imap.Error) func(*testing.T) error {
	return func(t *testing.T) error {
		ca := newCA(t)
		srv := imapServer(t, ca, testmail.IMAPOptions{
			XOAUTH2: func(user, token string) bool { return reply != nil },
			Fault: func(cmd string) error {
				if cmd == "AUTHENTICATE" && reply != nil {
					return reply
				}
				return nil
			},
		})
		return imapSignIn(t, ca, srv, host, auth.Bearer(mailboxUser, auth.StaticToken("token", mailboxUser)))
	}
}

// imapNoRolesToken signs in with an app-only token from the identity
// platform that carries no roles, as before admin consent.
func imapNoRolesToken(t *testing.T) error {
	idp := startIdP(t, testmail.IdPOptions{AppRoles: []string{}, AppMailbox: mailboxUser})
	ca := newCA(t)
	srv := imapServer(t, ca, testmail.IMAPOptions{XOAUTH2: idp.CheckToken("IMAP.AccessAsUser.All")})
	cfg, acct := loadAccount(t, serverAccount(t, ca, "imap", local, srv.Addr)+appOnlyTOML(idp))
	cred, err := auth.New(acct, auth.Options{StateDir: cfg.StateDir})
	if err != nil {
		t.Fatal(err)
	}
	s, err := mimap.Dial(ctxFor(t), acct, cred)
	if err == nil {
		s.Logout(ctxFor(t))
		t.Fatal("the sign-in succeeded")
	}
	return err
}

// imapMissingFolder selects a folder the server lacks.
func imapMissingFolder(t *testing.T) error {
	ca := newCA(t)
	srv := imapServer(t, ca, testmail.IMAPOptions{})
	_, acct := loadAccount(t, serverAccount(t, ca, "imap", local, srv.Addr)+"password = \"unused\"")
	s, err := mimap.Dial(ctxFor(t), acct, auth.Password(mailboxUser, password))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Logout(ctxFor(t))
	_, err = s.Select(ctxFor(t), "Invoices", mailbox.After{Action: "none"})
	if err == nil {
		t.Fatal("SELECT of a missing folder succeeded")
	}
	return err
}

// imapMissingFolderMailutils is GNU Mailutils' answer to EXAMINE of a
// folder it lacks.
func imapMissingFolderMailutils(t *testing.T) error {
	ca := newCA(t)
	srv := imapServer(t, ca, testmail.IMAPOptions{Fault: func(cmd string) error {
		if cmd == "SELECT" {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Text: "EXAMINE Could not open Invoices: No such file or directory"}
		}
		return nil
	}})
	_, acct := loadAccount(t, serverAccount(t, ca, "imap", local, srv.Addr)+"password = \"unused\"")
	s, err := mimap.Dial(ctxFor(t), acct, auth.Password(mailboxUser, password))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Logout(ctxFor(t))
	_, err = s.Select(ctxFor(t), "Invoices", mailbox.After{Action: "none"})
	if err == nil {
		t.Fatal("EXAMINE of a missing folder succeeded")
	}
	return err
}

// imapSelectRefused is the server's reply to SELECT or EXAMINE of the
// inbox, at host, once signed in.
func imapSelectRefused(host string, reply *imap.Error) func(*testing.T) error {
	return func(t *testing.T) error {
		ca := newCA(t)
		srv := imapServer(t, ca, testmail.IMAPOptions{Fault: func(cmd string) error {
			if cmd == "SELECT" {
				return reply
			}
			return nil
		}})
		_, acct := loadAccount(t, serverAccount(t, ca, "imap", host, srv.Addr)+"password = \"unused\"")
		s, err := mimap.Dial(ctxFor(t), acct, auth.Password(mailboxUser, password))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Logout(ctxFor(t))
		_, err = s.Select(ctxFor(t), "INBOX", mailbox.After{Action: "none"})
		if err == nil {
			t.Fatal("SELECT succeeded")
		}
		return err
	}
}

// gmailTooManyConnections signs in with a token to a server that answers
// as Gmail did to one connection too many (the exchange of MailKit issue
// 377): AUTHENTICATE XOAUTH2 gets a failure challenge, {"status":"400",
// "schemes":"Bearer","scope":"https://mail.google.com/"}, and the client's
// empty answer "NO [ALERT] Too many simultaneous connections. (Failure)".
func gmailTooManyConnections(t *testing.T) error {
	var tag string
	srv, err := testmail.StartScripted(testmail.IMAPScript{
		Greeting:     "* OK Gimap ready for requests from 127.0.0.1 x2mb241876667wmk",
		Capabilities: "IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID XLIST CHILDREN X-GM-EXT-1 XYZZY SASL-IR AUTH=XOAUTH2 AUTH=PLAIN AUTH=PLAIN-CLIENTTOKEN AUTH=OAUTHBEARER AUTH=XOAUTH",
		Replies: map[string]func(io.Writer, string, string) error{
			"AUTHENTICATE": func(w io.Writer, t, _ string) error {
				tag = t
				_, err := io.WriteString(w, "+ eyJzdGF0dXMiOiI0MDAiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n")
				return err
			},
			"": func(w io.Writer, _, _ string) error { // the client's empty answer
				_, err := io.WriteString(w, tag+" NO [ALERT] Too many simultaneous connections. (Failure)\r\n")
				return err
			},
		},
	}.Script())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	host, port, _ := net.SplitHostPort(srv.Addr())
	_, acct := loadAccount(t, fmt.Sprintf("host = %q\nport = %s\ntls = \"none\"\nusername = %q\npassword = \"unused\"\ntimeout = \"5s\"\n", host, port, mailboxUser))
	s, err := mimap.Dial(ctxFor(t), acct, bearer())
	if err == nil {
		s.Logout(ctxFor(t))
		t.Fatal("the sign-in succeeded")
	}
	return err
}

// imapEndedBy opens INBOX on a server that answers UID SEARCH with bye,
// an untagged BYE, and closes the connection: the search for new mail
// fails as go-imap reports it, a bare end of stream, which mailtask
// completes with the server's reason.
func imapEndedBy(bye string) func(*testing.T) error {
	return func(t *testing.T) error {
		srv, err := testmail.StartScripted(testmail.IMAPScript{Replies: map[string]func(io.Writer, string, string) error{
			"UID SEARCH": func(w io.Writer, _, _ string) error {
				if _, err := io.WriteString(w, bye+"\r\n"); err != nil {
					return err
				}
				return io.EOF
			},
		}}.Script())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		host, port, _ := net.SplitHostPort(srv.Addr())
		_, acct := loadAccount(t, fmt.Sprintf("host = %q\nport = %s\ntls = \"none\"\nusername = %q\npassword = \"unused\"\ntimeout = \"5s\"\n", host, port, mailboxUser))
		s, err := mimap.Dial(ctxFor(t), acct, auth.Password(mailboxUser, password))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Select(ctxFor(t), "INBOX", mailbox.After{Action: "none"}); err != nil {
			t.Fatal(err)
		}
		if _, err = s.New(ctxFor(t), mailbox.NoneTaken); err == nil {
			t.Fatal("the search succeeded")
		}
		return err
	}
}

// imapLoginDisabled signs in with a password over plain text to a server
// that offers STARTTLS and advertises LOGINDISABLED until then.
func imapLoginDisabled(t *testing.T) error {
	ca := newCA(t)
	srv, err := testmail.StartIMAP(testmail.IMAPOptions{TLS: ca.ServerTLS, StartTLS: true, Username: mailboxUser, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(srv.Addr)
	return dialIMAP(t, "host = \"127.0.0.1\"\nport = "+port+"\ntls = \"none\"")
}

// imapActionRefused applies after = "move" to a message of a server that
// answers cmd (MOVE, COPY or STORE) with reply; caps, when given, are the
// ones the server offers instead of MOVE (UIDPLUS alone, as Courier).
func imapActionRefused(cmd string, caps []imap.Cap, reply *imap.Error) func(*testing.T) error {
	return func(t *testing.T) error {
		ca := newCA(t)
		opts := testmail.IMAPOptions{Mailboxes: []string{"Processed"}, NoMove: len(caps) > 0, Fault: func(c string) error {
			if c == cmd {
				return reply
			}
			return nil
		}}
		srv := imapServer(t, ca, opts)
		uid, err := srv.Append("INBOX", []byte("Subject: scan\r\n\r\nbody\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		_, acct := loadAccount(t, serverAccount(t, ca, "imap", local, srv.Addr)+"password = \"unused\"")
		s, err := mimap.Dial(ctxFor(t), acct, auth.Password(mailboxUser, password))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Logout(ctxFor(t))
		after := mailbox.After{Action: "move", MoveTo: "Processed"}
		if cmd == "STORE" {
			after = mailbox.After{Action: "seen"}
		}
		if _, err := s.Select(ctxFor(t), "INBOX", after); err != nil {
			t.Fatal(err)
		}
		err = s.Apply(ctxFor(t), after, []mailbox.Message{{UID: uid}})
		if err == nil {
			t.Fatalf("%s was not refused", cmd)
		}
		return err
	}
}

// tlsPortInPlainText connects with tls = "none" to a port that speaks TLS
// and waits for the client's first bytes, as an IMAPS port does.
func tlsPortInPlainText(t *testing.T) error {
	addr := tlsServer(t, "127.0.0.1:0", newCA(t).ServerTLS)
	_, port, _ := net.SplitHostPort(addr)
	return dialIMAP(t, "host = \"127.0.0.1\"\nport = "+port+"\ntls = \"none\"\ntimeout = \"30s\"")
}

// pop3Refused is a POP3 server's -ERR line to the command starting with
// verb, with a password or a token.
func pop3Refused(host, verb, line string, token bool) func(*testing.T) error {
	return func(t *testing.T) error {
		ca := newCA(t)
		opts := testmail.POP3Options{TLS: ca.ServerTLS, Username: mailboxUser, Password: password, Fault: func(cmd string) string {
			if strings.HasPrefix(cmd, verb) {
				return line
			}
			return ""
		}}
		if token {
			opts.XOAUTH2 = func(string, string) bool { return true }
		}
		srv, err := testmail.StartPOP3(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		_, acct := loadAccount(t, serverAccount(t, ca, "pop3", host, srv.Addr())+"password = \"unused\"")
		var cred auth.Credential = auth.Password(mailboxUser, password)
		if token {
			cred = auth.Bearer(mailboxUser, auth.StaticToken("token", mailboxUser))
		}
		s, err := pop3.Open(ctxFor(t), acct, cred, slog.New(slog.DiscardHandler))
		if err == nil {
			s.Logout(ctxFor(t))
			t.Fatal("the sign-in succeeded")
		}
		return err
	}
}

// smtpRefused sends a notification through an SMTP server at host that
// answers AUTH with reply; with token, it signs in with XOAUTH2 and the
// server refuses the token with reply after its failure challenge.
func smtpRefused(host string, reply *smtp.SMTPError, token bool) func(*testing.T) error {
	return func(t *testing.T) error {
		ca := newCA(t)
		opts := testmail.SMTPOptions{TLS: ca.ServerTLS, Username: mailboxUser, Password: password, Mechanisms: []string{sasl.Login}, AuthError: reply}
		var cred auth.Credential = auth.Password(mailboxUser, password)
		if token {
			opts = testmail.SMTPOptions{TLS: ca.ServerTLS, Mechanisms: []string{sasl.Login, "XOAUTH2"}, XOAUTH2: func(string, string) bool { return false }, TokenRefusal: reply}
			cred = auth.Bearer(mailboxUser, auth.StaticToken("token", mailboxUser))
		}
		srv, err := testmail.StartSMTP(opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		_, port, _ := net.SplitHostPort(srv.Addr)
		tlsConfig := ca.ClientTLS()
		tlsConfig.ServerName = host
		m := &notify.Mailer{Addr: net.JoinHostPort(host, port), TLS: config.TLSStartTLS, TLSConfig: tlsConfig, Cred: cred, From: mailboxUser, To: []string{"ops@contoso.com"}, Timeout: 10 * time.Second}
		err = m.Send(ctxFor(t), "subject", "body")
		if err == nil {
			t.Fatal("the mail was sent")
		}
		return err
	}
}

func startIdP(t *testing.T, opts testmail.IdPOptions) *testmail.IdP {
	t.Helper()
	opts.Tenant, opts.ClientSecret = "contoso.onmicrosoft.com", secret
	idp, err := testmail.StartIdP(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	return idp
}

func appOnlyTOML(idp *testmail.IdP) string {
	return fmt.Sprintf("auth = \"oauth2\"\n[accounts.a.oauth2]\nflow = \"client_credentials\"\ntenant = %q\nclient_id = %q\nclient_secret = %q\ntoken_url = %q\n",
		idp.Tenant(), idp.ClientID(), secret, idp.Endpoint(idp.Tenant(), "token"))
}

// idpRefused is the token endpoint's JSON error, as Entra sends it, to an
// app-only token request.
func idpRefused(code string, aadsts int, message string) func(*testing.T) error {
	return func(t *testing.T) error {
		idp := startIdP(t, testmail.IdPOptions{})
		idp.FailNext("client_credentials", testmail.IdPError{Code: code, AADSTS: aadsts, Message: message})
		cfg, acct := loadAccount(t, "host = \"127.0.0.1\"\nusername = \""+mailboxUser+"\"\n"+appOnlyTOML(idp))
		src, err := auth.NewSource(acct, auth.Options{StateDir: cfg.StateDir})
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.Token(ctxFor(t))
		if err == nil {
			t.Fatal("the token request succeeded")
		}
		return err
	}
}

// browserNeverReturned waits for a browser sign-in that never comes back.
func browserNeverReturned(t *testing.T) error {
	idp := startIdP(t, testmail.IdPOptions{})
	// Not a port from a listener on port 0: outgoing connections take
	// their source ports from that range, and one could have it by the
	// time the sign-in listens ("port … is taken", the wrong row).
	redirect := testmail.RedirectURL(t)
	cfg, acct := loadAccount(t, fmt.Sprintf("host = \"127.0.0.1\"\nusername = %q\nauth = \"oauth2\"\n[accounts.a.oauth2]\ntenant = %q\nclient_id = %q\nredirect_url = %q\nauth_url = %q\ntoken_url = %q\n",
		mailboxUser, idp.Tenant(), idp.ClientID(), redirect, idp.Endpoint(idp.Tenant(), "authorize"), idp.Endpoint(idp.Tenant(), "token")))
	src, err := auth.NewSource(acct, auth.Options{StateDir: cfg.StateDir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctxFor(t), 100*time.Millisecond)
	defer cancel()
	_, err = src.LoginBrowser(ctx, func(string) {}) // nobody opens the page
	if err == nil {
		t.Fatal("the sign-in succeeded")
	}
	return err
}

// dialIMAP connects to an IMAP account at host:port with the given TLS
// lines and returns the error.
func dialIMAP(t *testing.T, lines string) error {
	t.Helper()
	_, acct := loadAccount(t, lines+"\nusername = \""+mailboxUser+"\"\npassword = \"unused\"\n")
	s, err := mimap.Dial(ctxFor(t), acct, auth.Password(mailboxUser, password))
	if err == nil {
		s.Logout(ctxFor(t))
		t.Fatal("the connection succeeded")
	}
	return err
}

// tlsServer answers TLS handshakes on addr with cert, and nothing more.
func tlsServer(t *testing.T, addr string, cfg *tls.Config) string {
	t.Helper()
	l, err := tls.Listen("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				c.(*tls.Conn).Handshake()
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return l.Addr().String()
}

func unknownCA(t *testing.T) error {
	srv := imapServer(t, newCA(t), testmail.IMAPOptions{})
	_, port, _ := net.SplitHostPort(srv.Addr)
	return dialIMAP(t, "host = \"127.0.0.1\"\nport = "+port) // no ca_file
}

func wrongHostName(t *testing.T) error {
	ca := newCA(t)
	// 127.0.0.2 is loopback on Linux, and not a name on the certificate.
	addr := tlsServer(t, "127.0.0.2:0", ca.ServerTLS)
	host, port, _ := net.SplitHostPort(addr)
	caFile, _ := ca.WriteCertFile(t.TempDir())
	return dialIMAP(t, fmt.Sprintf("host = %q\nport = %s\nca_file = %q", host, port, caFile))
}

func expiredCertificate(t *testing.T) error {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "expired"},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	addr := tlsServer(t, "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	_, port, _ := net.SplitHostPort(addr)
	return dialIMAP(t, fmt.Sprintf("host = \"127.0.0.1\"\nport = %s\nca_file = %q", port, caFile))
}

func plaintextServer(t *testing.T) error {
	srv, err := testmail.StartIMAP(testmail.IMAPOptions{Username: mailboxUser, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(srv.Addr)
	return dialIMAP(t, "host = \"127.0.0.1\"\nport = "+port+"\ntls = \"implicit\"")
}

func connectionRefused(t *testing.T) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close() // nothing listens there now
	return dialIMAP(t, "host = \"127.0.0.1\"\nport = "+port)
}

func unknownHost(t *testing.T) error {
	return dialIMAP(t, "host = \"mailtask-test.invalid\"\ntimeout = \"3s\"")
}

func silentServer(t *testing.T) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			accepted <- c // accepted, never answered
		}
	}()
	t.Cleanup(func() {
		select {
		case c := <-accepted:
			c.Close()
		default:
		}
	})
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return dialIMAP(t, "host = \"127.0.0.1\"\nport = "+port+"\ntimeout = \"1s\"")
}

// runTimeout is a run whose task's timeout runs out while nothing waits
// on the network, as popimap.WithDeadline reports it.
func runTimeout(t *testing.T) error {
	cfg, _ := loadAccount(t, "host = \"127.0.0.1\"\nusername = \"u\"\npassword = \"p\"")
	task := cfg.Task("t")
	task.Timeout = config.Duration(time.Second)
	run := popimap.WithDeadline(func(ctx context.Context, _ popimap.Options) (popimap.Summary, error) {
		<-ctx.Done() // local work that outlasts the timeout
		return popimap.Summary{}, ctx.Err()
	})
	_, err := run(ctxFor(t), popimap.Options{Config: cfg, Task: task})
	if err == nil {
		t.Fatal("the run outlasted its timeout without error")
	}
	return err
}

// bearer is a token credential that never asks an identity platform.
func bearer() auth.Credential {
	return auth.Bearer(mailboxUser, auth.StaticToken("token", mailboxUser))
}

// certRefused is the refusal Entra sends to the client assertion of an
// app-only account signing in with a certificate, as the test IdP
// verifies it: registered says whether the certificate was uploaded to
// the app registration, skew how far the IdP's clock is ahead of
// mailtask's.
func certRefused(registered bool, skew time.Duration) func(*testing.T) error {
	return func(t *testing.T) error {
		now := time.Now()
		cert, err := testmail.NewAppCertificate(now.Add(-time.Hour), now.AddDate(1, 0, 0), false)
		if err != nil {
			t.Fatal(err)
		}
		opts := testmail.IdPOptions{Clock: clock.NewFake(now.Add(skew))}
		if registered {
			opts.ClientCertificates = []*x509.Certificate{cert.Cert}
		}
		idp := startIdP(t, opts)
		file := filepath.Join(t.TempDir(), "app.pem")
		if err := os.WriteFile(file, cert.PEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, acct := loadAccount(t, fmt.Sprintf("host = \"127.0.0.1\"\nusername = %q\nauth = \"oauth2\"\n[accounts.a.oauth2]\nflow = \"client_credentials\"\ntenant = %q\nclient_id = %q\nclient_certificate_file = %q\ntoken_url = %q\n",
			mailboxUser, idp.Tenant(), idp.ClientID(), file, idp.Endpoint(idp.Tenant(), "token")))
		src, err := auth.NewSource(acct, auth.Options{StateDir: cfg.StateDir, Clock: clock.NewFake(now)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.Token(ctxFor(t))
		if err == nil {
			t.Fatal("the token request succeeded")
		}
		return err
	}
}

// serviceAccountRefused is Google's refusal of a service account's grant
// for alice's mailbox, as the test IdP's Google token endpoint verifies
// it: change sets the service account up wrong, puts mailtask's clock
// off by skew, or names another user.
func serviceAccountRefused(change func(sa *testmail.GoogleServiceAccount, skew *time.Duration, user *string)) func(*testing.T) error {
	return func(t *testing.T) error {
		key, err := testmail.NewServiceAccountKey(false)
		if err != nil {
			t.Fatal(err)
		}
		sa, skew, user := key.Account(config.ScopeGoogleMail), time.Duration(0), "alice@example.com"
		change(&sa, &skew, &user)
		idp := startIdP(t, testmail.IdPOptions{ServiceAccounts: []testmail.GoogleServiceAccount{sa}, WorkspaceUsers: []string{"alice@example.com"}})
		file := filepath.Join(t.TempDir(), "sa.json")
		if err := os.WriteFile(file, key.JSON(idp.GoogleTokenURL()), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, acct := loadAccount(t, fmt.Sprintf("host = \"imap.gmail.com\"\nusername = %q\nauth = \"oauth2\"\n[accounts.a.oauth2]\nprovider = \"google\"\nflow = \"service_account\"\nservice_account_key_file = %q\n", user, file))
		src, err := auth.NewSource(acct, auth.Options{StateDir: cfg.StateDir, Clock: clock.NewFake(time.Now().Add(skew))})
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.Token(ctxFor(t))
		if err == nil {
			t.Fatal("the token request succeeded")
		}
		return err
	}
}
