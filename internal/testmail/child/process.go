//go:build unix

package child

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Process is a server running as a child of the test binary.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been reaped
}

// ErrPortTaken means another process bound the server's port between
// FreePort closing it and the server binding it; a caller tries another.
var ErrPortTaken = errors.New("the port was taken before the server could bind it")

// Start starts cmd, whose SysProcAttr Attr made, with its output appended
// to logPath, and polls ready until it returns nil, the process exits or
// timeout passes. On failure it stops the process, and the error carries
// the log's tail; it wraps ErrPortTaken if the log says a port was in
// use.
func Start(cmd *exec.Cmd, logPath string, ready func(context.Context) error, timeout time.Duration) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the log says why
		close(p.exited)
	}()
	if err := p.waitReady(ready, timeout); err != nil {
		p.Stop(os.Kill, 0)
		tail := LogTail(logPath)
		if strings.Contains(tail, "could not bind") || strings.Contains(strings.ToLower(tail), "address already in use") {
			return nil, fmt.Errorf("%w\n%s", ErrPortTaken, tail)
		}
		return nil, fmt.Errorf("%s did not become ready: %w\nlog tail:\n%s", cmd.Path, err, tail)
	}
	return p, nil
}

func (p *Process) waitReady(ready func(context.Context) error, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return errors.New("it exited during startup")
		case <-ctx.Done():
			return fmt.Errorf("not ready within %v: %w", timeout, err)
		case <-tick.C:
		}
	}
}

// PID is the process's ID, for reading what it costs (/proc/PID/stat).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop sends sig to the process and waits up to grace for it to exit,
// then sends SIGKILL to its process group and waits up to 15 s more. It
// may be called more than once.
func (p *Process) Stop(sig os.Signal, grace time.Duration) {
	select {
	case <-p.exited:
		return
	default:
	}
	if sig != os.Kill {
		_ = p.cmd.Process.Signal(sig) // an error means it has exited
		select {
		case <-p.exited:
			return
		case <-time.After(grace):
		}
	}
	if err := KillGroup(p.cmd.Process); err != nil {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
	}
}

const logTailLines = 40

// LogTail returns the last lines of a server's log, for failure messages.
func LogTail(path string) string {
	data, err := os.ReadFile(path)
	text := strings.TrimRight(string(data), "\n")
	if err != nil || text == "" {
		return "(the server wrote no log)"
	}
	lines := strings.Split(text, "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return strings.Join(lines, "\n")
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	ports, err := FreePorts(1)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// FreePorts asks the kernel for n free loopback ports, held together so
// that none repeats, for a server that binds several listeners. Another
// process may take one before the server binds it.
func FreePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free loopback port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// OnFreePort calls launch with a free loopback port until it starts a
// server there: another process may take the port between FreePort and
// the server binding it (launch's error wraps ErrPortTaken), and then
// another port is tried, three in all.
func OnFreePort(launch func(port int) error) error {
	for try := 0; ; try++ {
		port, err := FreePort()
		if err != nil {
			return err
		}
		err = launch(port)
		if err == nil || !errors.Is(err, ErrPortTaken) || try == 2 {
			return err
		}
	}
}

// Unavailable is a server this machine does not have (or cannot run), and
// what to install.
type Unavailable string

func (e Unavailable) Error() string { return string(e) }

// SkipOrFatal ends t for err: a skip when err is Unavailable, for a
// developer without the server, except under CI=true, where a machine
// must not pass by skipping; a failure otherwise.
func SkipOrFatal(t testing.TB, err error) {
	t.Helper()
	var unavailable Unavailable
	switch {
	case !errors.As(err, &unavailable):
		t.Fatal(err)
	case os.Getenv("CI") == "true":
		t.Fatal(unavailable.Error())
	default:
		t.Skip(unavailable.Error())
	}
}

// Server is what a harness starts: a process with a directory of its own.
type Server interface {
	// LogTail returns the last lines of its log, for failure messages.
	LogTail() string
	// Remove stops it by PID and removes its directory.
	Remove()
}

// Own starts a server of t's own with start; t.Cleanup removes it, first
// logging its log's tail if t failed. Without the server (start returns
// Unavailable) it skips t, or fails it under CI=true.
func Own[S Server](t testing.TB, name string, start func() (S, error)) S {
	t.Helper()
	s, err := start()
	if err != nil {
		SkipOrFatal(t, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log tail:\n%s", name, s.LogTail())
		}
		s.Remove()
	})
	return s
}

// Shared is a server started once per test binary, on first use, by
// Start; Name names it in failure messages.
type Shared[S Server] struct {
	Name  string
	Start func() (S, error)

	once    sync.Once
	server  S
	err     error
	started bool
}

// Get returns the server, starting it the first time. Without the server
// it skips t, or fails it under CI=true.
func (sh *Shared[S]) Get(t testing.TB) S {
	t.Helper()
	sh.once.Do(func() {
		sh.server, sh.err = sh.Start()
		sh.started = sh.err == nil
	})
	if sh.err != nil {
		SkipOrFatal(t, sh.err)
	}
	return sh.server
}

// Main runs a package's tests, then removes the server if one was started,
// showing its log's tail if a test failed. It is the package's TestMain,
// or a package sharing several harnesses' servers calls Stop of each after
// m.Run instead.
func (sh *Shared[S]) Main(m *testing.M) {
	code := m.Run()
	if code != 0 {
		sh.Report()
	}
	sh.Stop()
	os.Exit(code)
}

// Report writes the server's log tail to stderr, if it was started: for a
// package whose tests failed.
func (sh *Shared[S]) Report() {
	if sh.started {
		fmt.Fprintf(os.Stderr, "%s log tail:\n%s\n", sh.Name, sh.server.LogTail())
	}
}

// Stop removes the server, if one was started. Call it once the tests are
// over (from TestMain), not while Get may be running.
func (sh *Shared[S]) Stop() {
	if sh.started {
		sh.server.Remove()
	}
}
