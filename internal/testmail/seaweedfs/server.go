//go:build unix

package seaweedfs

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
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

// Region is the region the clients sign for; SeaweedFS accepts any.
const Region = "us-east-1"

// readyTimeout bounds the start: four servers in one process, the
// volume server registering with the master, and the S3 gateway with
// the filer.
const readyTimeout = 60 * time.Second

// Server is one running `weed server`: master, volume server, filer and
// S3 gateway in one process.
type Server struct {
	// Endpoint is the S3 gateway's http://127.0.0.1:port; AccessKeyID and
	// SecretAccessKey are its one identity's, which may do anything.
	Endpoint                     string
	AccessKeyID, SecretAccessKey string
	// Dir holds the volumes, the filer's store, the configuration, the
	// local sockets and the log.
	Dir string

	binary string
	grpc   map[string]int // the servers' gRPC ports, by name
	proc   *child.Process
}

// Start starts a server of t's own; t.Cleanup stops it by PID and removes
// Dir. Most tests share one server instead (Shared). Without weed it
// skips t, or fails it under CI=true.
func Start(t testing.TB) *Server { return StartIn(t, "") }

// StartIn is Start with Dir made in parent ("" for the default
// temporary directory), as versitygw.StartIn.
func StartIn(t testing.TB, parent string) *Server {
	return child.Own(t, "seaweedfs", func() (*Server, error) { return start(parent) })
}

func start(parent string) (s *Server, err error) {
	binary, err := probe()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "mailtask-seaweedfs-")
	if err != nil {
		return nil, fmt.Errorf("seaweedfs: server dir: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	s = &Server{AccessKeyID: "mailtask-test", SecretAccessKey: rand.Text(), Dir: dir, binary: binary}
	if err := s.writeIdentities(); err != nil {
		return nil, err
	}
	// Another process may take one of the ports between freePorts and
	// weed binding it: then other ports are tried, three times in all.
	for try := 0; ; try++ {
		err = s.launch()
		if err == nil || !errors.Is(err, child.ErrPortTaken) || try == 2 {
			return s, err
		}
	}
}

func (s *Server) logPath() string    { return filepath.Join(s.Dir, "weed.log") }
func (s *Server) configPath() string { return filepath.Join(s.Dir, "s3.json") }

// writeIdentities writes the S3 gateway's configuration: one identity,
// the tests', with every action. The keys go in a file of Dir, not on
// the command line that ps shows.
func (s *Server) writeIdentities() error {
	type credential struct {
		AccessKey string `json:"accessKey"`
		SecretKey string `json:"secretKey"`
	}
	type identity struct {
		Name        string       `json:"name"`
		Credentials []credential `json:"credentials"`
		Actions     []string     `json:"actions"`
	}
	config, err := json.Marshal(map[string][]identity{"identities": {{
		Name:        "mailtask",
		Credentials: []credential{{AccessKey: s.AccessKeyID, SecretKey: s.SecretAccessKey}},
		Actions:     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}})
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.configPath(), config, 0o600); err != nil {
		return fmt.Errorf("seaweedfs: %w", err)
	}
	return nil
}

// launch starts weed as our child, sent SIGTERM if the test binary dies.
// Each of its four servers listens for HTTP and gRPC on ports of its own,
// all on 127.0.0.1, given here: their defaults (9333, 8080, 8888, 8333,
// and 10000 above each for gRPC) would collide between test binaries.
// What it would otherwise start or reach beyond them is turned off: the
// master's anonymous usage report to the project's server, and the
// Iceberg and Lance catalogues on fixed ports. Its log goes to its
// output, not to files in the temporary directory.
//
// SeaweedFS keeps each bucket in a collection of its own, and grows a
// collection by 7 volumes at once by default: with the volume server's
// 8 a second bucket found no room. One volume a bucket (as `weed mini`
// sets it) and room for many let the tests make a bucket each.
func (s *Server) launch() error {
	p, err := child.FreePorts(8)
	if err != nil {
		return err
	}
	master, volume, filer, gateway := p[0], p[1], p[2], p[3]
	s.grpc = map[string]int{"master": p[4], "volume": p[5], "filer": p[6], "s3": p[7]}
	s.Endpoint = "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(gateway))
	port := func(name string, port int) string { return "-" + name + "=" + strconv.Itoa(port) }
	args := []string{"-logtostderr", "server",
		"-dir=" + filepath.Join(s.Dir, "data"), "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.telemetry=false", "-master.volumeSizeLimitMB=1024", "-volume.max=1000",
		port("master.port", master), port("master.port.grpc", s.grpc["master"]),
		port("volume.port", volume), port("volume.port.grpc", s.grpc["volume"]),
		"-filer", port("filer.port", filer), port("filer.port.grpc", s.grpc["filer"]),
		"-filer.localSocket=" + filepath.Join(s.Dir, "filer.sock"),
		"-s3", port("s3.port", gateway), port("s3.port.grpc", s.grpc["s3"]),
		"-s3.config=" + s.configPath(),
		"-s3.localSocket=" + filepath.Join(s.Dir, "s3.sock"),
		"-s3.port.iceberg=0", "-s3.port.lance=0",
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "data"), 0o700); err != nil {
		return fmt.Errorf("seaweedfs: %w", err)
	}
	cmd := exec.Command(s.binary, args...)
	// weed reads master.toml, filer.toml and security.toml from the
	// working directory, then ~/.seaweedfs and /etc/seaweedfs: Dir has
	// none, and HOME points there too, so that a machine's own do not
	// change what the tests run against. Its temporary files go there
	// too.
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), "HOME="+s.Dir, "TMPDIR="+s.Dir, "WEED_MASTER_VOLUME_GROWTH_COPY_1=1")
	cmd.SysProcAttr = child.Attr(nil, syscall.SIGTERM)
	proc, err := child.Start(cmd, s.logPath(), s.ready, readyTimeout)
	if err != nil {
		return fmt.Errorf("seaweedfs: %w", err)
	}
	s.proc = proc
	return nil
}

// ready succeeds once the gateway answers its health check and takes a
// create-only put. It answers the check before the volume server has
// registered with the master, when a put fails for want of a volume,
// and a create-only put waits, some seconds after that, for the filer's
// lock on the key, which its lock ring of filers serves once the master
// has announced the filer to it.
func (s *Server) ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/healthz", nil)
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
	const bucket = "mailtask-ready"
	c := s.Client()
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err != nil {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			return err
		}
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("ready"),
		Body: strings.NewReader("ready"), IfNoneMatch: aws.String("*")})
	if isPreconditionFailed(err) { // an earlier try's put was taken
		return nil
	}
	return err
}

func isPreconditionFailed(err error) bool {
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed
}

// Stop stops the server by its PID (SIGKILL to its process group) and
// waits for it to be reaped. It may be called more than once.
func (s *Server) Stop() {
	if s.proc != nil {
		s.proc.Stop(os.Kill, 0)
	}
}

// PID is the server's process ID, for benchmarks that read its CPU time.
func (s *Server) PID() int { return s.proc.PID() }

// Remove stops the server by PID and deletes Dir, and the sockets weed
// makes for its servers' gRPC at a path of its own choosing in /tmp
// (`weed server` has no setting for it).
func (s *Server) Remove() {
	s.Stop()
	for name, port := range s.grpc {
		os.Remove(fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%d.sock", name, port))
	}
	os.RemoveAll(s.Dir)
}

// LogTail returns the last lines of the server's output, for failure
// messages.
func (s *Server) LogTail() string { return child.LogTail(s.logPath()) }

// Client returns an S3 client of the tests' identity, path-style.
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
		t.Fatalf("seaweedfs: create bucket %s: %v", name, err)
	}
	return name
}
