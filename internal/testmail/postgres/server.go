//go:build unix

package postgres

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
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
)

// Server is one running PostgreSQL cluster.
type Server struct {
	Host string // 127.0.0.1
	Port int
	Dir  string // the cluster's root: data directory, socket, log

	inst install

	mu   sync.Mutex
	proc *child.Process // the postmaster
}

// Start starts a cluster of t's own; t.Cleanup stops it by PID and removes
// Dir. Most tests share one cluster instead (Shared); a test that restarts
// the server needs its own. Without PostgreSQL it skips t, or fails it
// under CI=true.
func Start(t testing.TB) *Server { return child.Own(t, "postgres", start) }

func start() (s *Server, err error) {
	inst, err := probe()
	if err != nil {
		return nil, err
	}
	// A short path: the unix socket lives in it, and socket paths are
	// limited to about 100 bytes, which t.TempDir can exceed.
	dir, err := child.MkdirTemp("mailtask-pg-")
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
	if err := inst.copyTemplate(dir, s.dataDir()); err != nil {
		return nil, err
	}
	err = child.OnFreePort(func(port int) error {
		s.Port = port
		return s.launch()
	})
	return s, err
}

func (s *Server) dataDir() string { return filepath.Join(s.Dir, "data") }
func (s *Server) logPath() string { return filepath.Join(s.Dir, "postgres.log") }

// launch starts the postmaster itself, not through pg_ctl, which would
// detach it: as our child it is stopped by its PID and dies with us. It
// listens on 127.0.0.1:Port and a socket in Dir, never elsewhere.
func (s *Server) launch() error {
	cmd := s.inst.command(s.Dir, filepath.Join(s.inst.bin, "postgres"), "-D", s.dataDir(),
		"-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses="+s.Host,
		"-c", "unix_socket_directories="+s.Dir,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "logging_collector=off",
	)
	proc, err := child.Start(cmd, s.logPath(), s.ping, readyTimeout)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	s.mu.Lock()
	s.proc = proc
	s.mu.Unlock()
	return nil
}

// ping succeeds once a query does over TCP.
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
	proc := s.proc
	s.mu.Unlock()
	if proc != nil {
		proc.Stop(syscall.SIGINT, stopTimeout)
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

// Remove stops the server by PID and deletes Dir.
func (s *Server) Remove() {
	s.Stop()
	os.RemoveAll(s.Dir)
}

// LogTail returns the last lines of the server's log, for failure
// messages.
func (s *Server) LogTail() string { return child.LogTail(s.logPath()) }
