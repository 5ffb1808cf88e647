package imap

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// idleWithin bounds every wait of the IDLE tests; none needs more than a
// fraction of it.
const idleWithin = 20 * time.Second

// idleBed is the in-process server, behind a fault proxy when fault is
// set, with n messages in INBOX.
func idleBed(t *testing.T, n int, timeout time.Duration, faults ...testmail.Fault) (*testmail.IMAPServer, *config.Account) {
	t.Helper()
	srv, err := testmail.StartIMAP(testmail.IMAPOptions{Username: "user", Password: "pass"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for i := range n {
		appendMessage(t, srv, i)
	}
	addr := srv.Addr
	if len(faults) > 0 {
		p, err := testmail.StartFaultProxy(testmail.FaultProxyOptions{Target: srv.Addr, Faults: faults})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		addr = p.Addr()
	}
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return srv, &config.Account{Host: host, Port: p, TLS: config.TLSNone, Username: "user", Timeout: config.Duration(timeout)}
}

func appendMessage(t *testing.T, srv *testmail.IMAPServer, i int) {
	t.Helper()
	if _, err := srv.Append("INBOX", testmail.PDFMessage(strconv.Itoa(i)+".pdf")); err != nil {
		t.Fatal(err)
	}
}

func watching(t *testing.T, a *config.Account) (*Session, Folder) {
	t.Helper()
	s, err := dialBed(t, a)
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Watch(context.Background(), "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return s, f
}

func waitNewMail(t *testing.T, s *Session) {
	t.Helper()
	select {
	case <-s.NewMail():
	case <-time.After(idleWithin):
		t.Fatal("no new mail signalled")
	}
}

func noNewMail(t *testing.T, s *Session) {
	t.Helper()
	select {
	case <-s.NewMail():
		t.Fatal("new mail signalled")
	default:
	}
}

// New mail is what makes the folder hold more messages than it did:
// EXISTS responses are counted against EXPUNGEs, so a message arriving
// after one was removed is new although EXISTS names the old number.
func TestIdleSignalsNewMail(t *testing.T) {
	srv, a := idleBed(t, 2, 10*time.Second)
	s, f := watching(t, a)
	if f.Messages != 2 || f.UIDNext != 3 || f.UIDValidity == 0 {
		t.Errorf("folder = %+v", f)
	}
	idling, err := s.Idle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	noNewMail(t, s)
	appendMessage(t, srv, 3)
	waitNewMail(t, s)

	// Another client deletes message 1 and a new one arrives: EXISTS says
	// 3, as before, but one message is new.
	other, err := dialBed(t, a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Select(context.Background(), "INBOX", mailbox.After{Action: config.AfterDelete}); err != nil {
		t.Fatal(err)
	}
	if err := other.Apply(context.Background(), mailbox.After{Action: config.AfterDelete}, []mailbox.Message{{UID: 1}}); err != nil {
		t.Fatal(err)
	}
	appendMessage(t, srv, 4)
	waitNewMail(t, s)
	if err := idling.Done(context.Background()); err != nil {
		t.Fatalf("Done: %v", err)
	}
	if err := s.Logout(context.Background()); err != nil {
		t.Errorf("Logout after IDLE: %v", err)
	}
}

// A server that never answers DONE is a dead connection: Done says so
// within the account's timeout (go-imap alone would wait forever) and
// closes the connection.
func TestIdleDoneOnAStalledServerFailsWithinTheTimeout(t *testing.T) {
	_, a := idleBed(t, 0, time.Second, testmail.Fault{Kind: testmail.FaultStall, On: "DONE"})
	s, _ := watching(t, a)
	idling, err := s.Idle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- idling.Done(context.Background()) }()
	select {
	case err := <-done:
		if !mailbox.IsTransient(err) {
			t.Errorf("Done on a stalled server: %v, want a transient error", err)
		}
	case <-time.After(idleWithin):
		t.Fatal("Done still waits for a server that stopped answering")
	}
	select {
	case <-s.Closed():
	case <-time.After(idleWithin):
		t.Error("the dead connection was not closed")
	}
}

// A connection that drops while idling is seen at once, through Closed,
// without waiting for the next DONE.
func TestIdleDroppedConnectionIsSeen(t *testing.T) {
	// The drop strikes when the server next writes after "+ idling\r\n":
	// the EXISTS of the new message is lost with the connection.
	srv, a := idleBed(t, 0, 10*time.Second, testmail.Fault{Kind: testmail.FaultDrop, On: "IDLE", After: int64(len("+ idling\r\n")) + 1})
	s, _ := watching(t, a)
	idling, err := s.Idle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	appendMessage(t, srv, 1)
	select {
	case <-s.Closed():
	case <-time.After(idleWithin):
		t.Fatal("the dropped connection went unnoticed")
	}
	if err := idling.Done(context.Background()); err == nil || !mailbox.IsTransient(err) {
		t.Errorf("Done after the drop: %v, want a transient error", err)
	}
}

func TestWatchNeedsAFolderThatExists(t *testing.T) {
	_, a := idleBed(t, 0, 10*time.Second)
	s, err := dialBed(t, a)
	if err != nil {
		t.Fatal(err)
	}
	var me *mailbox.Error
	if _, err := s.Watch(context.Background(), "Nowhere"); !errors.As(err, &me) || me.Step != mailbox.StepSelect {
		t.Errorf("Watch of a missing folder: %v", err)
	}
	if idles, err := s.CanIdle(context.Background()); !idles || err != nil {
		t.Errorf("the in-process server offers IDLE, CanIdle says %v, %v", idles, err)
	}
}
