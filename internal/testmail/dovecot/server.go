package dovecot

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mailtask/internal/testmail"
	"mailtask/internal/testmail/child"
)

// Default account every instance has.
const (
	DefaultUser     = "alice"
	DefaultPassword = "secret-pass"
)

const (
	readyTimeout = 10 * time.Second
	stopTimeout  = 10 * time.Second
	logTailLines = 40
)

// Server is one running Dovecot instance.
type Server struct {
	// 127.0.0.1:port each. The plain ports also offer STARTTLS (IMAP) and
	// STLS (POP3); plaintext logins are allowed on them.
	IMAPAddr, IMAPSAddr, POP3Addr, POP3SAddr string
	CACertFile                               string       // PEM of the CA clients should trust
	CA                                       *testmail.CA // the same CA, for Go clients (CA.ClientTLS)
	User, Password                           string       // the default account
	Dir                                      string       // the instance's root: config, log, homes

	id       identity
	users    map[string]string
	cmd      *exec.Cmd
	exited   chan struct{} // closed once the master process has been reaped
	stopOnce sync.Once

	mu        sync.Mutex
	lastMicro int64 // timestamp of the newest seeded file name, see uniqueName
}

// Options shape an instance. The zero value gives one account, alice with
// password secret-pass.
type Options struct {
	// Users adds accounts (name -> password); an entry for alice replaces
	// her password.
	Users map[string]string
	// Extra is appended to dovecot.conf, e.g. an oauth2 passdb and
	// "auth_mechanisms = plain login xoauth2" for XOAUTH2 tests. Every
	// "{DIR}" in it is replaced by Dir.
	Extra string
	// Files are written into Dir before Dovecot starts (name -> content),
	// readable by Dovecot's unprivileged users, for settings that live in
	// files of their own, such as an oauth2 passdb's args; Extra names them
	// as {DIR}/name.
	Files map[string]string
}

// errPortTaken means another process bound one of the ports between
// freePorts closing it and Dovecot binding it.
var errPortTaken = errors.New("dovecot: a listener port was taken before dovecot could bind it")

// Start starts Dovecot for t; t.Cleanup stops it by PID and removes Dir.
// Without Dovecot 2.3 (with imapd and pop3d) it skips t, or fails it when
// the environment says CI=true.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	inst, err := probe()
	var unavailable unavailableError
	if errors.As(err, &unavailable) {
		skipOrFail(t, os.Getenv("CI") == "true", unavailable.Error())
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	s, err := start(inst, opts)
	if errors.Is(err, errPortTaken) {
		s, err = start(inst, opts)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dovecot log tail (%s):\n%s", s.Dir, s.LogTail())
		}
		s.Stop()
		if err := os.RemoveAll(s.Dir); err != nil {
			t.Errorf("dovecot: remove %s: %v", s.Dir, err)
		}
	})
	return s
}

func start(inst install, opts Options) (s *Server, err error) {
	users := map[string]string{DefaultUser: DefaultPassword}
	for name, pass := range opts.Users {
		users[name] = pass
	}
	if err := checkUsers(users); err != nil {
		return nil, err
	}
	if err := checkFiles(opts.Files); err != nil {
		return nil, err
	}
	ca, err := testmail.NewCA()
	if err != nil {
		return nil, fmt.Errorf("dovecot: test CA: %w", err)
	}
	nums, err := child.FreePorts(4)
	if err != nil {
		return nil, fmt.Errorf("dovecot: %w", err)
	}
	var ports []string
	for _, n := range nums {
		ports = append(ports, strconv.Itoa(n))
	}
	// A short path: Dovecot's unix sockets live below it and socket paths
	// are limited to about 100 bytes, which t.TempDir can exceed.
	dir, err := child.MkdirTemp("mailtask-dovecot-")
	if err != nil {
		return nil, fmt.Errorf("dovecot: instance dir: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	s = &Server{
		IMAPAddr:  net.JoinHostPort("127.0.0.1", ports[0]),
		IMAPSAddr: net.JoinHostPort("127.0.0.1", ports[1]),
		POP3Addr:  net.JoinHostPort("127.0.0.1", ports[2]),
		POP3SAddr: net.JoinHostPort("127.0.0.1", ports[3]),
		CA:        ca,
		User:      DefaultUser,
		Password:  users[DefaultUser],
		Dir:       dir,
		id:        inst.id,
		users:     users,
	}
	if err := s.writeFiles(ports, opts); err != nil {
		return nil, fmt.Errorf("dovecot: prepare %s: %w", dir, err)
	}
	if err := s.launch(inst.binary); err != nil {
		return nil, err
	}
	if err := s.waitReady(readyTimeout); err != nil {
		s.Stop()
		tail := s.LogTail()
		if strings.Contains(tail, "Address already in use") {
			return nil, fmt.Errorf("%w\n%s", errPortTaken, tail)
		}
		return nil, fmt.Errorf("dovecot %s did not become ready: %w\nlog tail:\n%s", inst.version, err, tail)
	}
	return s, nil
}

// harnessFiles are the names in Dir that Options.Files may not take.
var harnessFiles = []string{"ca.pem", "cert.pem", "key.pem", "passwd", "dovecot.conf", "dovecot.log", "dovecot.stderr", "home", "run", "state"}

func checkFiles(files map[string]string) error {
	for name := range files {
		if !filepath.IsLocal(name) || filepath.Base(name) != name || slices.Contains(harnessFiles, name) {
			return fmt.Errorf("dovecot: Options.Files: %q must be a plain file name other than %s", name, strings.Join(harnessFiles, ", "))
		}
	}
	return nil
}

func (s *Server) writeFiles(ports []string, opts Options) error {
	// Dovecot's unprivileged users must reach the passwd file and the homes.
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(s.Dir, "home"), 0o755); err != nil {
		return err
	}
	for name := range s.users {
		if err := makeHome(s.Dir, name, s.id); err != nil {
			return err
		}
	}
	s.CACertFile = filepath.Join(s.Dir, "ca.pem")
	type file struct {
		name string
		data []byte
		perm os.FileMode
	}
	files := []file{
		{"ca.pem", s.CA.CertPEM, 0o644},
		{"cert.pem", s.CA.ServerPEM, 0o644},
		{"key.pem", s.CA.KeyPEM, 0o600}, // read by the master, which runs as us
	}
	for name, content := range opts.Files {
		files = append(files, file{name, []byte(content), 0o644})
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(s.Dir, f.name), f.data, f.perm); err != nil {
			return err
		}
	}
	if err := writePasswd(filepath.Join(s.Dir, "passwd"), s.users, s.id); err != nil {
		return err
	}
	return writeConfig(s.configPath(), configData{
		Dir: s.Dir, Extra: strings.ReplaceAll(opts.Extra, "{DIR}", s.Dir),
		InternalUser: s.id.internalUser, InternalGroup: s.id.internalGroup, LoginUser: s.id.loginUser,
		MailUID: s.id.mailUID, MailGID: s.id.mailGID,
		IMAPPort: ports[0], IMAPSPort: ports[1], POP3Port: ports[2], POP3SPort: ports[3],
	})
}

func (s *Server) configPath() string { return filepath.Join(s.Dir, "dovecot.conf") }

// launch starts the master in the foreground (-F) so that it stays our
// child: its PID is the one Stop signals.
func (s *Server) launch(binary string) error {
	// Startup errors go to stderr before log_path takes over.
	out, err := os.Create(filepath.Join(s.Dir, "dovecot.stderr"))
	if err != nil {
		return fmt.Errorf("dovecot: %w", err)
	}
	defer out.Close()
	cmd := exec.Command(binary, "-F", "-c", s.configPath())
	cmd.Dir = s.Dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("dovecot: start %s: %w", binary, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status adds nothing to the log
		close(s.exited)
	}()
	return nil
}

// waitReady polls until both plain ports greet, which means the login
// processes and the auth process are up.
func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := greeted(s.IMAPAddr, "* OK", deadline)
		if err == nil {
			err = greeted(s.POP3Addr, "+OK", deadline)
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no greeting within %v: %w", limit, err)
		}
		select {
		case <-s.exited:
			return errors.New("dovecot exited during startup")
		case <-tick.C:
		}
	}
}

// greeted connects to addr and reads the greeting, skipping the notice
// Dovecot sends while its auth process is still starting.
func greeted(addr, okPrefix string, deadline time.Time) error {
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("greeting from %s: %w", addr, err)
		}
		if strings.Contains(line, "Waiting for authentication") {
			continue
		}
		if !strings.HasPrefix(line, okPrefix) {
			return fmt.Errorf("greeting from %s: %q", addr, strings.TrimSpace(line))
		}
		return nil
	}
}

// PID is the master process's ID: its CPU time, with that of the
// processes it has reaped (logins, sessions), is what the server spent.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop stops the instance by its PID: SIGKILL to the process group the
// master leads, then a wait (bounded by 10 s) for the master to be reaped.
// It may be called more than once; Dir and the Maildirs stay for inspection
// until the test's cleanup.
//
// Not SIGTERM: on SIGTERM the master of Dovecot 2.3 always sleeps a
// hard-coded second after asking its children to quit, which would add a
// second to every test, and the orderly shutdown protects nothing a test
// needs: every message a client saw acknowledged is already in the Maildir.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		if err := killGroup(s.cmd.Process); err != nil {
			_ = s.cmd.Process.Kill() // an error means it has already exited
		}
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
		}
	})
}

// LogTail returns the last lines of Dovecot's log and startup output, for
// failure messages.
func (s *Server) LogTail() string {
	var lines []string
	for _, name := range []string{"dovecot.stderr", "dovecot.log"} {
		data, err := os.ReadFile(filepath.Join(s.Dir, name))
		if err != nil {
			continue // not written yet
		}
		text := strings.TrimRight(string(data), "\n")
		if text != "" {
			lines = append(lines, strings.Split(text, "\n")...)
		}
	}
	if len(lines) > logTailLines {
		lines = lines[len(lines)-logTailLines:]
	}
	if len(lines) == 0 {
		return "(dovecot wrote no log)"
	}
	return strings.Join(lines, "\n")
}
