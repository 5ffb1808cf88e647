package testmail

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/mail"
	"slices"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTPOptions configure an SMTPServer.
type SMTPOptions struct {
	TLS      *tls.Config // required: offered by STARTTLS, or implicit with Implicit
	Implicit bool

	Username, Password string

	// Mechanisms are the AUTH mechanisms offered, of PLAIN and LOGIN;
	// default both. Microsoft 365 offers LOGIN (and XOAUTH2) only.
	Mechanisms []string
	// AuthError, when set, is the reply to every AUTH, e.g. Microsoft's
	// 535 5.7.139 for a tenant with SMTP AUTH disabled.
	AuthError *smtp.SMTPError
	// XOAUTH2, when set, accepts "XOAUTH2" among Mechanisms and signs in
	// a client whose user and token it accepts.
	XOAUTH2 func(user, token string) bool
	// TokenRefusal is the final reply to a refused token, after the
	// failure challenge; default 535 5.7.8. Microsoft 365 sends 535 5.7.3
	// "Authentication unsuccessful".
	TokenRefusal *smtp.SMTPError
}

// SMTPServer is an in-process submission server on 127.0.0.1 with one
// user. It refuses AUTH before TLS and mail before AUTH, and records what
// it received and how the client signed in.
type SMTPServer struct {
	Addr string

	opts  SMTPOptions
	srv   *smtp.Server
	ln    net.Listener
	serve sync.WaitGroup

	mu       sync.Mutex
	received []ReceivedMail
	refusal  *smtp.SMTPError // the reply to MAIL FROM while set
	refused  int
	hold     *dataHold // while set, the reply to each message's data waits
}

// dataHold keeps the replies to messages' data back until released.
type dataHold struct {
	held    chan struct{}
	release chan struct{}
}

// ReceivedMail is one message the server accepted.
type ReceivedMail struct {
	Mechanism string // the AUTH mechanism the client used
	Username  string
	From      string
	To        []string
	Data      []byte
}

// Subjects are the subjects of mails, their encoded words decoded; t
// fails on a mail that cannot be read.
func Subjects(t testing.TB, mails []ReceivedMail) []string {
	t.Helper()
	var list []string
	for _, m := range mails {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatal(err)
		}
		s, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		list = append(list, s)
	}
	return list
}

// StartSMTPWithCA starts an SMTP server for t, over TLS from a CA of its
// own (opts.TLS is ignored), closed when t ends, and returns it with the
// file of the CA's certificate, for a client's ca_file.
func StartSMTPWithCA(t testing.TB, opts SMTPOptions) (srv *SMTPServer, caFile string) {
	t.Helper()
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	opts.TLS = ca.ServerTLS
	if srv, err = StartSMTP(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if caFile, err = ca.WriteCertFile(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return srv, caFile
}

// StartSMTP starts a server listening on 127.0.0.1:0.
func StartSMTP(opts SMTPOptions) (*SMTPServer, error) {
	if opts.TLS == nil {
		return nil, errors.New("testmail: SMTPOptions.TLS is required")
	}
	if opts.Mechanisms == nil {
		opts.Mechanisms = []string{sasl.Plain, sasl.Login}
	}
	s := &SMTPServer{opts: opts}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: s}, nil
	}))
	s.srv.Domain = "smtp.test"
	s.srv.TLSConfig = opts.TLS
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start SMTP test server: %w", err)
	}
	s.Addr = ln.Addr().String()
	if opts.Implicit {
		ln = tls.NewListener(ln, opts.TLS)
	}
	s.ln = ln
	s.serve.Go(func() { s.srv.Serve(ln) })
	return s, nil
}

// Close stops the server and drops every connection.
func (s *SMTPServer) Close() error {
	// As with the IMAP server: Close races with a Serve that has not yet
	// registered its listener, so the listener is closed and Serve waited
	// for first.
	s.ln.Close()
	s.serve.Wait()
	err := s.srv.Close()
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// RefuseMail makes the server answer every MAIL FROM with reply, as
// Microsoft 365 throttling a mailbox does (432 4.3.2), until it is called
// with nil.
func (s *SMTPServer) RefuseMail(reply *smtp.SMTPError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusal = reply
}

// HoldData keeps the reply to each message's data back, the message not
// yet accepted, until release is called, as a slow or hung server does:
// a test holds a sender in the middle of its send for as long as it
// needs, without sleeping. held receives as each message's data has
// arrived (up to 16 unread). release accepts the messages held, and
// those after it at once; it may be called more than once.
func (s *SMTPServer) HoldData() (held <-chan struct{}, release func()) {
	h := &dataHold{held: make(chan struct{}, 16), release: make(chan struct{})}
	s.mu.Lock()
	s.hold = h
	s.mu.Unlock()
	var once sync.Once
	return h.held, func() {
		once.Do(func() {
			s.mu.Lock()
			if s.hold == h {
				s.hold = nil
			}
			s.mu.Unlock()
			close(h.release)
		})
	}
}

// Refused is how many messages RefuseMail's reply turned away.
func (s *SMTPServer) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

// Received returns the messages accepted so far.
func (s *SMTPServer) Received() []ReceivedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.received)
}

type smtpSession struct {
	srv       *SMTPServer
	mechanism string
	username  string
	from      string
	to        []string
}

func (sess *smtpSession) AuthMechanisms() []string { return sess.srv.opts.Mechanisms }

func (sess *smtpSession) Auth(mech string) (sasl.Server, error) {
	if !slices.Contains(sess.srv.opts.Mechanisms, mech) {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(user, pass string) error {
		if e := sess.srv.opts.AuthError; e != nil {
			return e
		}
		if user != sess.srv.opts.Username || pass != sess.srv.opts.Password {
			return smtp.ErrAuthFailed
		}
		sess.mechanism, sess.username = mech, user
		return nil
	}
	switch mech {
	case sasl.Login:
		return &loginServer{check: check}, nil
	case "XOAUTH2":
		return &smtpXOAUTH2{srv: sess.srv, done: func(user string) { sess.mechanism, sess.username = mech, user }}, nil
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if identity != "" && identity != user {
			return smtp.ErrAuthFailed
		}
		return check(user, pass)
	}), nil
}

func (sess *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if sess.mechanism == "" {
		return smtp.ErrAuthRequired
	}
	sess.srv.mu.Lock()
	defer sess.srv.mu.Unlock()
	if r := sess.srv.refusal; r != nil {
		sess.srv.refused++
		return r
	}
	sess.from = from
	return nil
}

func (sess *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	sess.to = append(sess.to, to)
	return nil
}

func (sess *smtpSession) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		return err
	}
	sess.srv.mu.Lock()
	h := sess.srv.hold
	sess.srv.mu.Unlock()
	if h != nil {
		select {
		case h.held <- struct{}{}:
		default:
		}
		<-h.release
	}
	sess.srv.mu.Lock()
	sess.srv.received = append(sess.srv.received, ReceivedMail{
		Mechanism: sess.mechanism, Username: sess.username, From: sess.from, To: sess.to, Data: b.Bytes(),
	})
	sess.srv.mu.Unlock()
	return nil
}

func (sess *smtpSession) Reset() { sess.from, sess.to = "", nil }

func (sess *smtpSession) Logout() error { return nil }

// loginServer is the server side of SASL LOGIN as Microsoft's SMTP speaks
// it: "Username:" and "Password:" challenges, an initial response taken as
// the user name. go-sasl has only the client.
type loginServer struct {
	check   func(user, pass string) error
	user    string
	gotUser bool
}

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch {
	case response == nil && !l.gotUser:
		return []byte("Username:"), false, nil
	case !l.gotUser:
		l.user, l.gotUser = string(response), true
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(response))
	}
}

// smtpXOAUTH2 is XOAUTH2 as Microsoft's SMTP does it: a refused token
// gets a JSON failure challenge, and after the client's empty answer 535.
type smtpXOAUTH2 struct {
	srv     *SMTPServer
	done    func(user string)
	refused bool
}

func (x *smtpXOAUTH2) Next(response []byte) ([]byte, bool, error) {
	switch {
	case x.refused && x.srv.opts.TokenRefusal != nil:
		return nil, true, x.srv.opts.TokenRefusal
	case x.refused:
		return nil, true, smtp.ErrAuthFailed
	case x.srv.opts.AuthError != nil:
		return nil, true, x.srv.opts.AuthError
	case response == nil:
		return nil, false, nil // no initial response: "334 " asks for it
	}
	if user, token, ok := parseXOAUTH2(string(response)); ok && x.srv.opts.XOAUTH2 != nil && x.srv.opts.XOAUTH2(user, token) {
		x.done(user)
		return nil, true, nil
	}
	x.refused = true
	return []byte(`{"status":"401","schemes":"bearer","scope":"https://outlook.office.com/SMTP.Send"}`), false, nil
}
