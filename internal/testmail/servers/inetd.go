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
	wg     sync.WaitGroup
}

// StartInetd listens on 127.0.0.1:0 and serves each connection with argv,
// run in env, its standard error going to log.
func StartInetd(argv, env []string, log io.Writer) (*Inetd, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d := &Inetd{ln: ln, argv: argv, env: env, log: log, procs: map[*os.Process]bool{}}
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
	d.procs[cmd.Process] = true
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		_ = cmd.Wait()
		d.mu.Lock()
		delete(d.procs, cmd.Process)
		d.mu.Unlock()
	}()
	return nil
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
