//go:build unix

package versitygw

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	stopTimeout  = 10 * time.Second
	logTailLines = 40
	healthPath   = "/mailtask-health"
)

// Server is one running versitygw.
type Server struct {
	// Endpoint is http://127.0.0.1:port; AccessKeyID and SecretAccessKey
	// are its root user's.
	Endpoint                     string
	AccessKeyID, SecretAccessKey string
	Dir                          string // root/ holds the buckets, meta/ their metadata

	binary string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts a server of t's own; t.Cleanup stops it by PID and removes
// Dir. Without versitygw it skips t, or fails it under CI=true.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		skipOrFatal(t, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("versitygw log tail (%s):\n%s", s.Dir, s.LogTail())
		}
		s.Stop()
		if err := os.RemoveAll(s.Dir); err != nil {
			t.Errorf("versitygw: remove %s: %v", s.Dir, err)
		}
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
	binary, err := probe()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mailtask-s3-")
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
	s = &Server{AccessKeyID: "mailtask-test", SecretAccessKey: rand.Text(), Dir: dir, binary: binary}
	// Another process may take the free port before versitygw binds it;
	// a second port then.
	for try := 0; ; try++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s.Endpoint = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		err = s.launch(port)
		if err == nil || !errors.Is(err, errPortTaken) || try == 2 {
			return s, err
		}
	}
}

var errPortTaken = errors.New("versitygw: the port was taken before it could bind it")

func (s *Server) logPath() string { return filepath.Join(s.Dir, "versitygw.log") }

// launch starts versitygw as our child, listening on 127.0.0.1:port only.
func (s *Server) launch(port int) error {
	log, err := os.OpenFile(s.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("versitygw: %w", err)
	}
	defer log.Close()
	cmd := exec.Command(s.binary,
		"--port", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		"--region", Region,
		"--health", healthPath,
		"posix", "--sidecar", filepath.Join(s.Dir, "meta"), filepath.Join(s.Dir, "root"))
	// The keys go by environment, not on the command line that ps shows.
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.AccessKeyID, "ROOT_SECRET_ACCESS_KEY="+s.SecretAccessKey)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = child.Attr(nil, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("versitygw: start %s: %w", s.binary, err)
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
		if strings.Contains(tail, "address already in use") {
			return fmt.Errorf("%w\n%s", errPortTaken, tail)
		}
		return fmt.Errorf("versitygw did not become ready: %w\nlog tail:\n%s", err, tail)
	}
	return nil
}

// waitReady polls the health endpoint.
func (s *Server) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get(s.Endpoint + healthPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("health check: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %v: %w", readyTimeout, err)
		}
		select {
		case <-exited:
			return errors.New("versitygw exited during startup")
		case <-tick.C:
		}
	}
}

// Stop stops the server by its PID (SIGKILL to its process group: an
// acknowledged write is already on disk) and waits for it to be reaped.
// It may be called more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	if err := child.KillGroup(cmd.Process); err != nil {
		_ = cmd.Process.Kill() // an error means it has exited
	}
	select {
	case <-exited:
	case <-time.After(stopTimeout):
	}
}

// LogTail returns the last lines of the server's output, for failure
// messages.
func (s *Server) LogTail() string {
	data, err := os.ReadFile(s.logPath())
	text := strings.TrimRight(string(data), "\n")
	if err != nil || text == "" {
		return "(versitygw wrote no log)"
	}
	lines := strings.Split(text, "\n")
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	return strings.Join(lines, "\n")
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

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("versitygw: find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
