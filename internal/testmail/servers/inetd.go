package servers

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Inetd listens on a loopback port and runs a program for each connection
// with the connection as its standard input and output, as inetd does:
// the way GNU Mailutils' servers and popa3d are meant to run.
type Inetd struct {
	ln   net.Listener
	argv []string
	env  []string
	log  io.Writer

	mu     sync.Mutex
	procs  map[*os.Process]bool
	closed bool
	// quiet is closed while no program runs, and replaced by an open one
	// when one starts.
	quiet chan struct{}
	wg    sync.WaitGroup
}

// StartInetd listens on 127.0.0.1:0 and serves each connection with argv,
// run in env, its standard error going to log.
func StartInetd(argv, env []string, log io.Writer) (*Inetd, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &Inetd{ln: ln, argv: argv, env: env, log: log, procs: map[*os.Process]bool{}, quiet: make(chan struct{})}
	close(d.quiet)
	d.wg.Add(1)
	go d.accept()
	return d, nil
}

// Addr is the listener's host:port.
func (d *Inetd) Addr() string { return d.ln.Addr().String() }

func (d *Inetd) accept() {
	defer d.wg.Done()
	for {
		conn, err := d.ln.Accept()
		if err != nil {
			return
		}
		if err := d.serve(conn); err != nil {
			fmt.Fprintf(d.log, "inetd: %v\n", err)
		}
	}
}

// serve starts the program on conn; the program's process holds the
// socket from then on.
func (d *Inetd) serve(conn net.Conn) error {
	defer conn.Close()
	f, err := conn.(*net.TCPConn).File()
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command(d.argv[0], d.argv[1:]...)
	cmd.Env = d.env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, d.log
	// The kernel ends the program should the test binary die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("closed")
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	if len(d.procs) == 0 {
		d.quiet = make(chan struct{})
	}
	d.procs[cmd.Process] = true
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		_ = cmd.Wait()
		d.mu.Lock()
		delete(d.procs, cmd.Process)
		if len(d.procs) == 0 {
			close(d.quiet)
		}
		d.mu.Unlock()
	}()
	return nil
}

// Quiet waits until no program is serving a connection, at most timeout.
// A client's session is over when its program has exited, not when the
// client has had its last reply: Courier's POP3 server answers QUIT
// before it deletes the messages marked for deletion, so a mailbox read
// right after a client's QUIT could still hold them.
func (d *Inetd) Quiet(timeout time.Duration) error {
	d.mu.Lock()
	quiet := d.quiet
	d.mu.Unlock()
	select {
	case <-quiet:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("a session of %s still runs after %s", d.argv[0], timeout)
	}
}

// Close stops listening, kills the programs still serving a connection by
// their PIDs, and waits for them.
func (d *Inetd) Close() error {
	err := d.ln.Close()
	d.mu.Lock()
	d.closed = true
	for p := range d.procs {
		_ = p.Kill()
	}
	d.mu.Unlock()
	d.wg.Wait()
	return err
}

// quietTimeout bounds how long WaitQuiet waits for a session to end.
const quietTimeout = 30 * time.Second

// WaitQuiet waits until none of ds serves a connection (Inetd.Quiet), as
// a harness does before it reads a mailbox, and fails t if one still
// does after quietTimeout.
func WaitQuiet(t testing.TB, ds ...*Inetd) {
	t.Helper()
	for _, d := range ds {
		if err := d.Quiet(quietTimeout); err != nil {
			t.Fatal(err)
		}
	}
}
