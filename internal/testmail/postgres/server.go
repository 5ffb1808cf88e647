//go:build unix

package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/testmail/child"
)

// Superuser is the role the cluster is created with; it signs in without a
// password (trust) on loopback and the socket.
const Superuser = "postgres"

const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 15 * time.Second
	logTailLines = 40
)

// Server is one running PostgreSQL cluster.
type Server struct {
	Host string // 127.0.0.1
	Port int
	Dir  string // the cluster's root: data directory, socket, log

	inst install

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed once the postmaster has been reaped
}

// Start starts a cluster of t's own; t.Cleanup stops it by PID and removes
// Dir. Most tests share one cluster instead (Shared); a test that restarts
// the server needs its own. Without PostgreSQL it skips t, or fails it
// under CI=true.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		skipOrFatal(t, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgres log tail (%s):\n%s", s.Dir, s.LogTail())
		}
		s.remove(t)
	})
	return s
}

func skipOrFatal(t testing.TB, err error) {
	t.Helper()
	var unavailable unavailableError
	switch {
	case !errors.As(err, &unavailable):
		t.Fatal(err)
	case os.Getenv("CI") == "true":
		// CI must not pass by skipping.
		t.Fatal(unavailable.Error())
	default:
		t.Skip(unavailable.Error())
	}
}

func start() (s *Server, err error) {
	inst, err := probe()
	if err != nil {
		return nil, err
	}
	// A short path: the unix socket lives in it, and socket paths are
	// limited to about 100 bytes, which t.TempDir can exceed.
	dir, err := os.MkdirTemp("", "mailtask-pg-")
	if err != nil {
		return nil, fmt.Errorf("postgres: cluster dir: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if inst.cred != nil {
		if err := os.Chown(dir, int(inst.cred.Uid), int(inst.cred.Gid)); err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
	}
	s = &Server{Host: "127.0.0.1", Dir: dir, inst: inst}
	if err := s.initdb(); err != nil {
		return nil, err
	}
	// Another process may take the free port before the postmaster binds
	// it; a second port then.
	for try := 0; ; try++ {
		if s.Port, err = freePort(); err != nil {
			return nil, err
		}
		err = s.launch()
		if err == nil || !errors.Is(err, errPortTaken) || try == 2 {
			return s, err
		}
	}
}

// initdb creates the cluster: trust authentication (loopback and socket
// only), UTF-8 in the C locale, nothing fsynced.
func (s *Server) initdb() error {
	cmd := s.command("initdb", "-D", s.dataDir(), "-U", Superuser, "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("postgres: initdb: %w\n%s", err, out)
	}
	return nil
}

func (s *Server) dataDir() string { return filepath.Join(s.Dir, "data") }
func (s *Server) logPath() string { return filepath.Join(s.Dir, "postgres.log") }

// command is one of the cluster's binaries, run as the user that owns it.
func (s *Server) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.inst.bin, name), args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = child.Attr(s.inst.cred, syscall.SIGQUIT) // SIGQUIT: immediate shutdown
	return cmd
}

// errPortTaken means another process bound the port first.
var errPortTaken = errors.New("postgres: the port was taken before the postmaster could bind it")

// launch starts the postmaster itself, not through pg_ctl, which would
// detach it: as our child it is stopped by its PID and dies with us. It
// listens on 127.0.0.1:Port and a socket in Dir, never elsewhere.
func (s *Server) launch() error {
	log, err := os.OpenFile(s.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer log.Close()
	cmd := s.command("postgres", "-D", s.dataDir(),
		"-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses="+s.Host,
		"-c", "unix_socket_directories="+s.Dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "logging_collector=off",
	)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres: start %s: %w", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the log says why
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	if err := s.waitReady(exited); err != nil {
		s.Stop()
		tail := s.LogTail()
		if strings.Contains(tail, "could not bind") || strings.Contains(tail, "already in use") {
			return fmt.Errorf("%w\n%s", errPortTaken, tail)
		}
		return fmt.Errorf("postgres did not become ready: %w\nlog tail:\n%s", err, tail)
	}
	return nil
}

// waitReady polls until a query succeeds over TCP.
func (s *Server) waitReady(exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		err := s.ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("the postmaster exited during startup")
		case <-ctx.Done():
			return fmt.Errorf("no answer within %v: %w", readyTimeout, err)
		case <-tick.C:
		}
	}
}

func (s *Server) ping(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// URL is the connection URL of database db, as the superuser over TCP.
func (s *Server) URL(db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Host:     net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Stop stops the cluster by the postmaster's PID: a fast shutdown
// (SIGINT: sessions are ended, nothing waits for clients), then SIGKILL to
// its process group if it has not exited within 15 s. It may be called
// more than once; Restart starts it again.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGINT) // an error means it has exited
	select {
	case <-exited:
		return
	case <-time.After(stopTimeout):
	}
	_ = child.KillGroup(cmd.Process)
	select {
	case <-exited:
	case <-time.After(stopTimeout):
	}
}

// Restart stops the cluster and starts it again on the same port with the
// same data: every connection is cut, committed data stays.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.launch(); err != nil {
		t.Fatal(err)
	}
}

// remove stops the cluster and deletes its directory.
func (s *Server) remove(t testing.TB) {
	s.Stop()
	if err := os.RemoveAll(s.Dir); err != nil {
		t.Errorf("postgres: remove %s: %v", s.Dir, err)
	}
}

// LogTail returns the last lines of the server's log, for failure
// messages.
func (s *Server) LogTail() string {
	data, err := os.ReadFile(s.logPath())
	text := strings.TrimRight(string(data), "\n")
	if err != nil || text == "" {
		return "(postgres wrote no log)"
	}
	lines := strings.Split(text, "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return strings.Join(lines, "\n")
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("postgres: find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
