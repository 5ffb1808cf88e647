//go:build unix

package mox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtask/internal/testmail"
	"mailtask/internal/testmail/child"
)

const readyTimeout = 30 * time.Second

// Server is one running mox.
type Server struct {
	// IMAPAddr is 127.0.0.1:port: plain IMAP, STARTTLS offered with a
	// certificate for 127.0.0.1 and localhost from the CA in CAFile.
	IMAPAddr string
	CAFile   string
	// Dir holds the log; Dir/config mox's configuration and data.
	Dir string

	binary string
	proc   *child.Process

	mu       sync.Mutex
	accounts int      // made so far, to name the next
	shared   *Account // SharedAccount's, once made
}

// Account is an account of the server, with one address, which is what
// it signs in with.
type Account struct {
	Name, Address, Password string
}

func start() (s *Server, err error) {
	binary, err := probe()
	if err != nil {
		return nil, err
	}
	dir, err := child.MkdirTemp("mailtask-mox-")
	if err != nil {
		return nil, fmt.Errorf("mox: server dir: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	s = &Server{Dir: dir, binary: binary}
	if err := s.writeFiles(); err != nil {
		return nil, fmt.Errorf("mox: %w", err)
	}
	return s, child.OnFreePort(s.launch)
}

// writeFiles writes what localserve reads beside its configuration: the
// TLS certificate for localhost and 127.0.0.1 (from a CA of the test's,
// CAFile) with its key, and the key of its Received header IDs. Its
// -initonly would write them too, and hash an admin password and the
// default account's, which the tests do not use: a quarter of a CPU
// second.
func (s *Server) writeFiles() error {
	ca, err := testmail.NewCA()
	if err != nil {
		return fmt.Errorf("test CA: %w", err)
	}
	if s.CAFile, err = ca.WriteCertFile(s.Dir); err != nil {
		return err
	}
	if err := os.Mkdir(s.configDir(), 0o700); err != nil {
		return err
	}
	files := map[string][]byte{"localhost.crt": ca.ServerPEM, "localhost.key": ca.KeyPEM, "receivedid.key": make([]byte, 16+8)}
	rand.Read(files["receivedid.key"])
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(s.configDir(), name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) configDir() string { return filepath.Join(s.Dir, "config") }
func (s *Server) logPath() string   { return filepath.Join(s.Dir, "mox.log") }

// staticConfig is mox.conf: one listener, plain IMAP on 127.0.0.1:port,
// and nothing else. Pedantic is what localserve writes.
const staticConfig = `# Written by mailtask's test harness (internal/testmail/mox).
DataDir: .
LogLevel: info
User: 0
Hostname: localhost
Pedantic: true
Listeners:
	local:
		IPs:
			- 127.0.0.1
		TLS:
			KeyCerts:
				-
					CertFile: localhost.crt
					KeyFile: localhost.key
		IMAP:
			Enabled: true
			Port: %d
			NoRequireSTARTTLS: true
Postmaster:
	Account: mox
	Mailbox: Inbox
`

// dynamicConfig is domains.conf: the domain localhost and the account
// Postmaster names; SharedAccount adds the tests' own.
const dynamicConfig = `# Written by mailtask's test harness (internal/testmail/mox).
Domains:
	localhost: nil
Accounts:
	mox:
		Domain: localhost
		Destinations:
			mox@localhost: nil
`

// launch starts mox as our child, serving IMAP on 127.0.0.1:port only,
// and killed if the test binary dies.
func (s *Server) launch(port int) error {
	s.IMAPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// Accounts added since are in domains.conf, which mox rewrites: it
	// is written once, before the first launch.
	files := map[string]string{"mox.conf": fmt.Sprintf(staticConfig, port)}
	if s.proc == nil {
		files["domains.conf"] = dynamicConfig
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(s.configDir(), name), []byte(text), 0o600); err != nil {
			return fmt.Errorf("mox: %w", err)
		}
	}
	cmd := exec.Command(s.binary, "localserve", "-dir", s.configDir())
	cmd.Dir = s.Dir
	cmd.SysProcAttr = child.Attr(nil, syscall.SIGKILL)
	proc, err := child.Start(cmd, s.logPath(), s.greets, readyTimeout)
	if err != nil {
		return fmt.Errorf("mox: %w", err)
	}
	s.proc = proc
	return nil
}

// greets succeeds once the IMAP port answers with a greeting.
func (s *Server) greets(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.IMAPAddr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "* OK") {
		return fmt.Errorf("greeting %q", line)
	}
	return nil
}

// ctl runs a mox subcommand against the running server, through its
// control socket.
func (s *Server) ctl(stdin string, args ...string) error {
	cmd := exec.Command(s.binary, append([]string{"-config", filepath.Join(s.configDir(), "mox.conf")}, args...)...)
	cmd.Dir = s.Dir
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mox %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// addAccount adds an account with an address at localhost and a random
// password, as an administrator does with the mox command; s.mu is held.
func (s *Server) addAccount() (Account, error) {
	s.accounts++
	a := Account{Name: "u" + strconv.Itoa(s.accounts), Password: rand.Text()}
	a.Address = a.Name + "@localhost"
	if err := s.ctl("", "config", "account", "add", a.Name, a.Address); err != nil {
		return Account{}, err
	}
	if err := s.ctl(a.Password+"\n", "setaccountpassword", a.Name); err != nil {
		return Account{}, err
	}
	return a, nil
}

// SharedAccount returns the account the tests of a test binary share,
// adding it on first use; they keep apart by folder. Adding an account
// costs a fifth of a CPU second (two mox commands, and the server hashes
// the password for every mechanism it offers).
func (s *Server) SharedAccount(t testing.TB) Account {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shared == nil {
		a, err := s.addAccount()
		if err != nil {
			t.Fatal(err)
		}
		s.shared = &a
	}
	return *s.shared
}

// Login signs in to a's mailbox over plain IMAP; the client is closed
// when t ends.
func (s *Server) Login(t testing.TB, a Account) *imapclient.Client {
	t.Helper()
	c := s.dial(t)
	if err := c.Login(a.Address, a.Password).Wait(); err != nil {
		t.Fatalf("mox: login as %s: %v", a.Address, err)
	}
	return c
}

// dial connects to the IMAP port; the client is closed when t ends.
func (s *Server) dial(t testing.TB) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Create makes folders in a's mailbox.
func (s *Server) Create(t testing.TB, a Account, folders ...string) {
	t.Helper()
	c := s.Login(t, a)
	defer c.Logout()
	for _, f := range folders {
		if err := c.Create(f, nil).Wait(); err != nil {
			t.Fatalf("mox: CREATE %s as %s: %v", f, a.Address, err)
		}
	}
}

// Append adds raws to a's folder, in order, with the flags given (none
// for nil).
func (s *Server) Append(t testing.TB, a Account, folder string, flags []imap.Flag, raws ...[]byte) {
	t.Helper()
	c := s.Login(t, a)
	defer c.Logout()
	for _, raw := range raws {
		cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: flags})
		if _, err := cmd.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			t.Fatalf("mox: APPEND to %s of %s: %v", folder, a.Address, err)
		}
	}
}

// Message is a message as the server holds it.
type Message struct {
	UID   imap.UID
	Flags []imap.Flag
	Raw   []byte
}

// Messages returns the messages of a's folder, in UID order, read
// without changing their flags.
func (s *Server) Messages(t testing.TB, a Account, folder string) []Message {
	t.Helper()
	c := s.Login(t, a)
	defer c.Logout()
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("mox: EXAMINE %s of %s: %v", folder, a.Address, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatalf("mox: FETCH %s of %s: %v", folder, a.Address, err)
	}
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		out[i] = Message{UID: m.UID, Flags: m.Flags, Raw: bytes.Clone(m.FindBodySection(section))}
	}
	return out
}

// Stop stops the server by its PID (SIGKILL to its process group) and
// waits for it to be reaped. It may be called more than once.
func (s *Server) Stop() {
	if s.proc != nil {
		s.proc.Stop(os.Kill, 0)
	}
}

// Remove stops the server by PID and deletes Dir.
func (s *Server) Remove() {
	s.Stop()
	os.RemoveAll(s.Dir)
}

// LogTail returns the last lines of the server's output, for failure
// messages.
func (s *Server) LogTail() string { return child.LogTail(s.logPath()) }
