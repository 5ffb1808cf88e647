//go:build unix

package versitygw

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/testmail/child"
)

// Region is the region the server answers for.
const Region = "us-east-1"

const (
	readyTimeout = 20 * time.Second
	healthPath   = "/mailtask-health"
)

// Server is one running versitygw.
type Server struct {
	// Endpoint is http://127.0.0.1:port; AccessKeyID and SecretAccessKey
	// are its root user's.
	Endpoint                     string
	AccessKeyID, SecretAccessKey string
	// Dir's root/ holds the buckets; meta/ their metadata when root's
	// filesystem takes no extended attributes.
	Dir string

	binary, version string
	port            int // Endpoint's, kept across restarts
	proc            *child.Process
}

// Start starts a server of t's own; t.Cleanup stops it by PID and removes
// Dir. Most tests share one server instead (Shared); a test whose server
// must not outlive it, or that runs beside a package's other servers
// without a TestMain of this package's, starts its own. Without versitygw
// it skips t, or fails it under CI=true.
func Start(t testing.TB) *Server { return StartIn(t, "") }

// StartIn is Start with Dir made in parent ("" for the default
// temporary directory): a benchmark puts the server's storage on another
// filesystem, such as a tmpfs, to tell the disk's share of its cost.
func StartIn(t testing.TB, parent string) *Server {
	return child.Own(t, "versitygw", func() (*Server, error) { return start(parent, Version) })
}

func start(parent, version string) (s *Server, err error) {
	binary, err := probe(version)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "mailtask-s3-")
	if err != nil {
		return nil, fmt.Errorf("versitygw: server dir: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	for _, sub := range []string{"root", "meta"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("versitygw: %w", err)
		}
	}
	s = &Server{AccessKeyID: "mailtask-test", SecretAccessKey: rand.Text(), Dir: dir, binary: binary, version: version}
	return s, child.OnFreePort(s.launch)
}

func (s *Server) logPath() string { return filepath.Join(s.Dir, "versitygw.log") }

// launch starts versitygw as our child, listening on 127.0.0.1:port only,
// and sent SIGTERM if the test binary dies.
func (s *Server) launch(port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.port, s.Endpoint = port, "http://"+addr
	args := []string{"--port", addr, "--region", Region, "--health", healthPath}
	// Keep-alive, off by default in versitygw, is what AWS and the other
	// S3 servers do; without it every request of the sink is a new TCP
	// connection, which is not what users' puts cost. LegacyVersion has
	// no switch for it: its connections close after each request.
	if s.version == Version {
		args = append(args, "--keep-alive")
	}
	args = append(args, "posix")
	if !takesXattrs(filepath.Join(s.Dir, "root")) {
		args = append(args, "--sidecar", filepath.Join(s.Dir, "meta"))
	}
	cmd := exec.Command(s.binary, append(args, filepath.Join(s.Dir, "root"))...)
	// The keys go by environment, not on the command line that ps shows.
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKeyID, "ROOT_SECRET_ACCESS_KEY="+s.SecretAccessKey)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = child.Attr(nil, syscall.SIGTERM)
	proc, err := child.Start(cmd, s.logPath(), s.healthy, readyTimeout)
	if err != nil {
		return fmt.Errorf("versitygw: %w", err)
	}
	s.proc = proc
	return nil
}

// takesXattrs reports whether dir's filesystem stores user extended
// attributes, where versitygw keeps object metadata by default.
func takesXattrs(dir string) bool {
	const probe = "user.mailtask-probe"
	if syscall.Setxattr(dir, probe, []byte("1"), 0) != nil {
		return false
	}
	syscall.Removexattr(dir, probe)
	return true
}

// healthy succeeds once the health endpoint answers 200.
func (s *Server) healthy(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+healthPath, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s", resp.Status)
	}
	return nil
}

// Stop stops the server by its PID (SIGKILL to its process group: an
// acknowledged write is already on disk) and waits for it to be reaped,
// as a crash would; Relaunch starts it again. It may be called more
// than once.
func (s *Server) Stop() {
	if s.proc != nil {
		s.proc.Stop(os.Kill, 0)
	}
}

// Terminate stops the server by its PID with SIGTERM, as a service
// manager does, waiting up to grace for it to finish the requests it
// has begun, and with SIGKILL after that.
func (s *Server) Terminate(grace time.Duration) {
	s.proc.Stop(syscall.SIGTERM, grace)
}

// Relaunch starts the stopped server again on its address, over its
// Dir: the buckets and objects it had are served again, and clients
// need nothing new. It fails t if the address has been taken meanwhile.
func (s *Server) Relaunch(t testing.TB) {
	t.Helper()
	if err := s.launch(s.port); err != nil {
		t.Fatal(err)
	}
}

// PID is the server's process ID, for benchmarks that read its CPU time.
func (s *Server) PID() int { return s.proc.PID() }

// Remove stops the server by PID and deletes Dir.
func (s *Server) Remove() {
	s.Stop()
	os.RemoveAll(s.Dir)
}

// LogTail returns the last lines of the server's output, for failure
// messages.
func (s *Server) LogTail() string { return child.LogTail(s.logPath()) }

// RequestLog is the file of the server's output: a line per request it
// served (time, status, latency, client, method, path, error, query),
// which benchmarks count requests by.
func (s *Server) RequestLog() string { return s.logPath() }

// SettingsTOML is the top-level configuration that writes to the server:
// its endpoint and region, and its keys read from the files WriteKeys
// writes beside the configuration file (files rather than environment
// variables, which a parallel test may not set).
func (s *Server) SettingsTOML() string {
	return fmt.Sprintf("s3_endpoint = %q\ns3_region = %q\ns3_access_key_id_file = \"s3.id\"\ns3_secret_access_key_file = \"s3.secret\"\n", s.Endpoint, Region)
}

// WriteKeys writes the server's keys into dir, the folder of a
// configuration file holding SettingsTOML.
func (s *Server) WriteKeys(t testing.TB, dir string) {
	t.Helper()
	for name, key := range map[string]string{"s3.id": s.AccessKeyID, "s3.secret": s.SecretAccessKey} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(key), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Client returns an S3 client of the root user, path-style, as tests use
// to look at what a sink wrote.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""),
	})
}

// NewBucket creates an empty bucket for t and returns its name. It is
// left in place when t ends: Dir goes with the server.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	name := "t" + strings.ToLower(rand.Text())[:16]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("versitygw: create bucket %s: %v", name, err)
	}
	return name
}
