package demo

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// The demo mailbox's sign-in and the folder its task moves messages to.
const (
	User      = "invoices@demo.example"
	Password  = "demo-app-password"
	Processed = "Processed"
)

// Mailbox is the demo's mail server: IMAP over TLS on 127.0.0.1, one
// user whose INBOX holds Corpus, and a Processed folder. It answers as
// Exchange Online does in what the demo uses (IMAP4rev1 with UIDPLUS and
// MOVE), from memory.
type Mailbox struct {
	Addr     string // host:port on 127.0.0.1
	CA       *CA    // signed the server's certificate; trust it with CA.WriteCertFile
	Messages int    // how many messages the INBOX was given

	srv   *imapserver.Server
	ln    net.Listener
	serve sync.WaitGroup
}

// StartMailbox starts the demo's mail server holding Corpus.
func StartMailbox() (*Mailbox, error) {
	ca, err := NewCA()
	if err != nil {
		return nil, err
	}
	user := imapmemserver.NewUser(User, Password)
	for _, name := range []string{"INBOX", Processed} {
		if err := user.Create(name, nil); err != nil {
			return nil, fmt.Errorf("demo: create folder %s: %w", name, err)
		}
	}
	corpus := Corpus()
	for _, f := range corpus {
		if _, err := user.Append("INBOX", bytes.NewReader(f.Raw), &imap.AppendOptions{}); err != nil {
			return nil, fmt.Errorf("demo: preload %s: %w", f.Name, err)
		}
	}
	mem := imapmemserver.New()
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:   imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapNamespace: {}, imap.CapUIDPlus: {}, imap.CapMove: {}},
		Logger: log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: start the IMAP server: %w", err)
	}
	m := &Mailbox{Addr: ln.Addr().String(), CA: ca, Messages: len(corpus), srv: srv, ln: tls.NewListener(ln, ca.ServerTLS)}
	m.serve.Go(func() { srv.Serve(m.ln) })
	return m, nil
}

// Close stops the server and drops every connection.
func (m *Mailbox) Close() error {
	// imapserver.Server.Close races with a Serve that has not yet
	// registered its listener, so the listener is closed and Serve waited
	// for first.
	m.ln.Close()
	m.serve.Wait()
	return m.srv.Close()
}
