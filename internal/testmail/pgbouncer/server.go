//go:build unix

package pgbouncer

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
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/testmail/child"
	"mailtask/internal/testmail/postgres"
)

// Mode is PgBouncer's pool_mode: when a server connection goes back to
// the pool.
type Mode string

const (
	// Session: when the client disconnects (PgBouncer's default).
	Session Mode = "session"
	// Transaction: when each transaction ends (what poolers in front of
	// many clients and managed databases' pooled ports use).
	Transaction Mode = "transaction"
)

const (
	binary         = "/usr/sbin/pgbouncer"
	missingMessage = "PgBouncer not installed: apt-get install pgbouncer"
	readyTimeout   = 30 * time.Second
	stopTimeout    = 15 * time.Second
)

// Server is one running PgBouncer.
type Server struct {
	Host string // 127.0.0.1
	Port int
	Mode Mode
	Dir  string // its configuration and log

	proc *child.Process
}

// Start starts a PgBouncer of t's own in mode, in front of pg; t.Cleanup
// stops it by PID and removes Dir. Without PgBouncer it skips t, or fails
// it under CI=true.
func Start(t testing.TB, pg *postgres.Server, mode Mode) *Server {
	t.Helper()
	return child.Own(t, "pgbouncer", func() (*Server, error) { return start(pg, mode) })
}

func start(pg *postgres.Server, mode Mode) (s *Server, err error) {
	if _, err := os.Stat(binary); err != nil {
		return nil, child.Unavailable(missingMessage)
	}
	cred, err := child.RunAs("postgres", "PgBouncer refuses to run as root")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mailtask-pgbouncer-")
	if err != nil {
		return nil, fmt.Errorf("pgbouncer: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("pgbouncer: %w", err)
		}
	}
	s = &Server{Host: "127.0.0.1", Mode: mode, Dir: dir}
	err = child.OnFreePort(func(port int) error {
		s.Port = port
		return s.launch(pg, cred)
	})
	return s, err
}

// config is PgBouncer's configuration: every database of pg, reached
// over loopback, trust for every user as pg itself has, no unix socket;
// no ignore_startup_parameters: as PgBouncer comes, it refuses a startup
// parameter it does not know, and a client must cope with that. In
// transaction mode few server connections per database, as a busy pooler
// shares them among many clients, so that what one client leaves on a
// server connection another meets (enough for a test's transaction
// holding a row while others wait for it, and the test's own queries
// beside them); in session mode a client holds its server connection
// while it is connected, so there are as many as a test's nodes open.
func (s *Server) config(pg *postgres.Server) string {
	return fmt.Sprintf(`[databases]
* = host=%s port=%d

[pgbouncer]
listen_addr = %s
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = %s
max_client_conn = 1000
default_pool_size = %d
`, pg.Host, pg.Port, s.Host, s.Port, filepath.Join(s.Dir, "users.txt"), s.Mode, s.poolSize())
}

func (s *Server) poolSize() int {
	if s.Mode == Transaction {
		return 4
	}
	return 200
}

func (s *Server) launch(pg *postgres.Server, cred *syscall.Credential) error {
	ini := filepath.Join(s.Dir, "pgbouncer.ini")
	users := fmt.Sprintf("%q \"\"\n", postgres.Superuser)
	if err := errors.Join(os.WriteFile(ini, []byte(s.config(pg)), 0o644),
		os.WriteFile(filepath.Join(s.Dir, "users.txt"), []byte(users), 0o644)); err != nil {
		return fmt.Errorf("pgbouncer: %w", err)
	}
	cmd := exec.Command(binary, ini)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = child.Attr(cred, syscall.SIGTERM)
	proc, err := child.Start(cmd, s.logPath(), s.ping, readyTimeout)
	if err != nil {
		return fmt.Errorf("pgbouncer: %w", err)
	}
	s.proc = proc
	return nil
}

func (s *Server) logPath() string { return filepath.Join(s.Dir, "pgbouncer.log") }

// ping succeeds once a query through PgBouncer reaches PostgreSQL.
func (s *Server) ping(ctx context.Context) error {
	cfg, err := pgx.ParseConfig(s.Route("postgres://" + postgres.Superuser + "@127.0.0.1/postgres?sslmode=disable"))
	if err != nil {
		return err
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// Route returns the database URL dbURL (one the postgres harness gave)
// with its host and port PgBouncer's: the same database, through the
// pooler.
func (s *Server) Route(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		panic(fmt.Sprintf("pgbouncer: route %q: %v", dbURL, err))
	}
	u.Host = net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	return u.String()
}

// Remove stops PgBouncer by its PID (SIGTERM: at once, cutting its
// clients) and removes Dir.
func (s *Server) Remove() {
	if s.proc != nil {
		s.proc.Stop(syscall.SIGTERM, stopTimeout)
	}
	os.RemoveAll(s.Dir)
}

// LogTail returns the last lines of PgBouncer's log, for failure
// messages.
func (s *Server) LogTail() string { return child.LogTail(s.logPath()) }
