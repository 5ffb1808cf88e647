package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
)

// Mailer sends notifications through one SMTP server.
type Mailer struct {
	Addr      string // host:port
	TLS       string // config.TLSStartTLS, TLSImplicit or TLSNone
	TLSConfig *tls.Config
	Cred      auth.Credential
	From      string
	To        []string
	Timeout   time.Duration // bounds the whole exchange
	// Now is the clock for the Date header; nil means time.Now.
	Now func() time.Time
}

// New returns the Mailer [notify] describes, signing in with its account's
// password or OAuth2 tokens, which are in store (nil: the files under
// state_dir; in cluster mode, the database, where `auth login` put them).
// It returns nil when the configuration has no [notify].
func New(cfg *config.Config, store Store, log *slog.Logger) (*Mailer, error) {
	n := cfg.Notify
	if n == nil {
		return nil, nil
	}
	acct := n.Login(cfg)
	// The SMTP server's TLS settings are [notify]'s, not the account's.
	tlsConfig, err := mailbox.TLSConfig(&config.Account{Name: n.Account, Host: n.Host, CAFile: n.CAFile, InsecureSkipVerify: n.InsecureSkipVerify})
	if err != nil {
		return nil, fmt.Errorf("[notify]: %w", err)
	}
	cred, err := auth.New(acct, auth.Options{StateDir: cfg.StateDir, Tokens: storeOf(cfg, store, log).Tokens(), Log: log})
	if err != nil {
		return nil, fmt.Errorf("[notify]: %w", err)
	}
	return &Mailer{
		Addr:      net.JoinHostPort(n.Host, strconv.Itoa(n.Port)),
		TLS:       n.TLS,
		TLSConfig: tlsConfig,
		Cred:      cred,
		From:      n.From,
		To:        n.To,
		Timeout:   n.Timeout.Std(),
	}, nil
}

// Error is a failed notification; Step says how far it got.
type Error struct {
	Addr string
	Step string // "connect", "TLS", "login", "send"
	Err  error
}

func (e *Error) Error() string {
	return fmt.Sprintf("notify: SMTP %s to %s failed: %v", e.Step, e.Addr, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ServerHost is the SMTP server's host, for hints that hold only for
// Microsoft's.
func (e *Error) ServerHost() string {
	if host, _, err := net.SplitHostPort(e.Addr); err == nil {
		return host
	}
	return e.Addr
}

// reply shows an SMTP reply as the server sent it: go-smtp's text leaves
// out the enhanced status code (5.7.139), which says the most. The
// *smtp.SMTPError stays reachable with errors.As.
type reply struct{ *smtp.SMTPError }

func (r reply) Error() string {
	code := r.EnhancedCode
	if code == smtp.NoEnhancedCode || code == (smtp.EnhancedCode{}) {
		return fmt.Sprintf("%d %s", r.Code, r.Message)
	}
	return fmt.Sprintf("%d %d.%d.%d %s", r.Code, code[0], code[1], code[2], r.Message)
}

func (r reply) Unwrap() error { return r.SMTPError }

// withReply makes an SMTP reply in err show its enhanced status code.
func withReply(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) && err == error(se) {
		return reply{se}
	}
	return err
}

// Send mails subject and body to every recipient.
func (m *Mailer) Send(ctx context.Context, subject, body string) error {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	msg := compose(m.From, m.To, subject, body, now())
	fail := func(step string, err error) error { return &Error{Addr: m.Addr, Step: step, Err: withReply(err)} }

	dialer := net.Dialer{Timeout: m.Timeout}
	conn, err := dialer.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return fail("connect", err)
	}
	defer conn.Close()
	if m.Timeout > 0 {
		conn.SetDeadline(now().Add(m.Timeout))
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	var c *smtp.Client
	switch m.TLS {
	case config.TLSImplicit:
		tc := tls.Client(conn, m.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("TLS", err)
		}
		c = smtp.NewClient(tc)
	case config.TLSStartTLS:
		if c, err = smtp.NewClientStartTLS(conn, m.TLSConfig); err != nil {
			return fail("TLS", fmt.Errorf("STARTTLS: %w", err))
		}
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()

	// With STARTTLS the handshake happens on the first command after it.
	if err := c.Hello("localhost"); err != nil {
		if isTLSError(err) {
			return fail("TLS", err)
		}
		return fail("connect", err)
	}
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return fail("login", errors.New("the server offers no AUTH on this connection"))
	}
	sc, err := saslClient(ctx, m.Cred, strings.Fields(strings.ToUpper(mechs)))
	if err != nil {
		return fail("login", err)
	}
	if err := c.Auth(sc); err != nil {
		return fail("login", err)
	}
	if err := c.SendMail(m.From, m.To, bytes.NewReader(msg)); err != nil {
		return fail("send", err)
	}
	if err := c.Quit(); err != nil {
		return fail("send", err)
	}
	return nil
}

func isTLSError(err error) bool {
	var (
		cert   *tls.CertificateVerificationError
		alert  tls.AlertError
		record tls.RecordHeaderError
	)
	return errors.As(err, &cert) || errors.As(err, &alert) || errors.As(err, &record)
}
