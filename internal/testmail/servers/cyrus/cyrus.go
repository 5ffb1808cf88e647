// Package cyrus runs Cyrus IMAP 3.6 (Debian's cyrus-imapd and
// cyrus-pop3d) for tests, from the private root of package servers: its
// master, as Debian starts it but with a configuration (imapd.conf,
// cyrus.conf) and every directory of its own in a temporary directory,
// serving IMAP and POP3 on two loopback ports.
//
// Cyrus refuses to run as root: the master runs as the unprivileged user
// nobody (or, for a test that is not root, as the test's user), which
// imapd.conf names as cyrus_user. Mailboxes are made and quotas set over
// IMAP by the administrator, "cyrus", as cyradm would. Passwords are not
// checked (SASL's alwaystrue method): the tests need Cyrus' mailboxes and
// replies, not its password store, and no test here is about a wrong
// password. Cyrus logs only to syslog, which the harness does not read.
//
// It reproduces with the real server a UID MOVE refused with "NO Over
// quota", and POP3's [LOGIN-DELAY] under popminpoll, whose delay Cyrus
// announces in CAPA.
package cyrus

import (
	"bytes"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"mailtask/internal/testmail/child"
	"mailtask/internal/testmail/servers"
)

// Admin is the administrator's name; it and every user sign in with any
// password.
const Admin = "cyrus"

var programs = []string{"usr/lib/cyrus/bin/master", "usr/lib/cyrus/bin/imapd", "usr/lib/cyrus/bin/pop3d", "usr/lib/cyrus/bin/ctl_cyrusdb"}

// Server is one Cyrus, its files under Dir.
type Server struct {
	IMAPAddr, POP3Addr string // 127.0.0.1:port, plain text
	Dir                string
}

// Options shape a Server.
type Options struct {
	// PopMinPoll is imapd.conf's popminpoll, the least time between two
	// POP3 logins to a mailbox: minutes, or with a unit ("2s"). Empty
	// means Debian's 1 (minute).
	PopMinPoll string
}

// Start runs Cyrus until t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	root := servers.Find(t, programs...)
	if opts.PopMinPoll == "" {
		opts.PopMinPoll = "1"
	}
	var err error
	for range 2 { // a second try should another process take a port first
		var s *Server
		if s, err = start(t, root, opts); err == nil {
			return s
		}
	}
	t.Fatal(err)
	return nil
}

func start(t testing.TB, root servers.Root, opts Options) (*Server, error) {
	ports, err := child.FreePorts(2)
	if err != nil {
		return nil, err
	}
	s := &Server{
		IMAPAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		POP3Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		Dir:      servers.Dir(t, "cyrus"),
	}
	uid, gid := 65534, 65534
	if os.Getuid() != 0 {
		uid, gid = os.Getuid(), os.Getgid()
	}
	if err := s.write(root, uid, gid, opts); err != nil {
		return nil, err
	}
	conf := filepath.Join(s.Dir, "imapd.conf")
	cmd := exec.Command(root.Path("usr/lib/cyrus/bin/master"), "-C", conf, "-M", filepath.Join(s.Dir, "cyrus.conf"), "-p", filepath.Join(s.Dir, "config", "master.pid"), "-D")
	cmd.Env = root.Env()
	cmd.Dir = s.Dir
	// Started as the Cyrus user rather than switching to it: a change of
	// IDs would clear the parent-death signal. Its own process group, with
	// the services it forks.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if os.Getuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	exited, err := servers.Start(t, cmd)
	if err != nil {
		return nil, err
	}
	err = servers.WaitFor("greeting from Cyrus (it logs to syslog only)", exited, func() bool {
		return servers.Greets(s.IMAPAddr, "* OK") && servers.Greets(s.POP3Addr, "+OK")
	})
	return s, err
}

// write writes imapd.conf and cyrus.conf and makes the directories
// Debian's package makes, owned by the Cyrus user.
func (s *Server) write(root servers.Root, uid, gid int, opts Options) error {
	for _, d := range []string{"db", "proc", "socket", "log", "msg", "ptclient", "quota", "sieve", "user", "lock"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, "config", d), 0o750); err != nil {
			return err
		}
	}
	for _, d := range []string{"spool", "sieve"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o750); err != nil {
			return err
		}
	}
	for _, d := range []string{"config", "spool", "sieve"} {
		if err := chownAll(filepath.Join(s.Dir, d), uid, gid); err != nil {
			return err
		}
	}
	// Debian's imapd.conf, but for the paths, the user and the password
	// check.
	conf := fmt.Sprintf(`# Written by mailtask's test harness (internal/testmail/servers/cyrus).
configdirectory: %[1]s/config
proc_path: %[1]s/config/proc
mboxname_lockpath: %[1]s/config/lock
defaultpartition: default
partition-default: %[1]s/spool
sievedir: %[1]s/sieve
lmtpsocket: %[1]s/config/socket/lmtp
idlesocket: %[1]s/config/socket/idle
notifysocket: %[1]s/config/socket/notify
altnamespace: no
unixhierarchysep: no
lmtp_downcase_rcpt: yes
allowanonymouslogin: no
popminpoll: %[2]s
autocreate_quota: 0
umask: 077
sieveusehomedir: false
hashimapspool: true
allowplaintext: yes
sasl_pwcheck_method: alwaystrue
sasl_auto_transition: no
admins: %[3]s
cyrus_user: %[4]s
syslog_prefix: mailtask-cyrus
`, s.Dir, opts.PopMinPoll, Admin, servers.UserName(uid))
	bin := root.Path("usr/lib/cyrus/bin")
	confPath := filepath.Join(s.Dir, "imapd.conf")
	services := fmt.Sprintf(`# Written by mailtask's test harness (internal/testmail/servers/cyrus).
START {
	recover cmd="%[1]s/ctl_cyrusdb -C %[2]s -r"
}
SERVICES {
	imap cmd="%[1]s/imapd -C %[2]s -U 30" listen="%[3]s" prefork=0 maxchild=20
	pop3 cmd="%[1]s/pop3d -C %[2]s -U 30" listen="%[4]s" prefork=0 maxchild=20
}
EVENTS {
}
DAEMON {
}
`, bin, confPath, s.IMAPAddr, s.POP3Addr)
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.Dir, "cyrus.conf"), []byte(services), 0o644)
}

func chownAll(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// login signs in as name over IMAP.
func (s *Server) login(t testing.TB, name string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.IMAPAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(name, "any").Wait(); err != nil {
		c.Close()
		t.Fatalf("cyrus: login as %s: %v", name, err)
	}
	return c
}

// admin runs do as the administrator.
func (s *Server) admin(t testing.TB, do func(*imapclient.Client) error) {
	t.Helper()
	c := s.login(t, Admin)
	defer c.Close()
	if err := do(c); err != nil {
		t.Fatalf("cyrus: as %s: %v", Admin, err)
	}
}

// AddUser makes user's INBOX and the folders ("Processed" is
// INBOX.Processed to the user), as an administrator does.
func (s *Server) AddUser(t testing.TB, user string, folders ...string) {
	t.Helper()
	s.admin(t, func(c *imapclient.Client) error {
		for _, name := range append([]string{""}, folders...) {
			mbox := "user." + user
			if name != "" {
				mbox += "." + name
			}
			if err := c.Create(mbox, nil).Wait(); err != nil {
				return fmt.Errorf("CREATE %s: %w", mbox, err)
			}
		}
		return nil
	})
}

// SetQuota sets the limits of the quota root user's folder ("" for the
// INBOX), as cyradm's setquota does; no limits lifts the quota. Cyrus
// refuses what would exceed a limit with "NO Over quota".
func (s *Server) SetQuota(t testing.TB, user, folder string, limits map[imap.QuotaResourceType]int64) {
	t.Helper()
	mbox := "user." + user
	if folder != "" {
		mbox += "." + folder
	}
	s.admin(t, func(c *imapclient.Client) error { return c.SetQuota(mbox, limits).Wait() })
}

// Append adds raws to the user's folder ("INBOX", "INBOX.Processed"), as
// the user.
func (s *Server) Append(t testing.TB, user, folder string, raws ...[]byte) {
	t.Helper()
	c := s.login(t, user)
	defer c.Close()
	for _, raw := range raws {
		cmd := c.Append(folder, int64(len(raw)), nil)
		if _, err := cmd.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := cmd.Wait(); err != nil {
			t.Fatalf("cyrus: APPEND to %s of %s: %v", folder, user, err)
		}
	}
}

// Messages returns the messages of the user's folder, in UID order, read
// without changing their flags.
func (s *Server) Messages(t testing.TB, user, folder string) [][]byte {
	t.Helper()
	c := s.login(t, user)
	defer c.Close()
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatalf("cyrus: EXAMINE %s of %s: %v", folder, user, err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var raws [][]byte
	for _, m := range msgs {
		raws = append(raws, bytes.Clone(m.FindBodySection(section)))
	}
	return raws
}

// POP3Login signs in to the user's mailbox over POP3 and out again, as
// another client polling it would, which starts popminpoll anew.
func (s *Server) POP3Login(t testing.TB, user string) {
	t.Helper()
	conn, err := textproto.Dial("tcp", s.POP3Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, cmd := range []string{"", "USER " + user, "PASS any", "QUIT"} {
		if cmd != "" {
			if err := conn.PrintfLine("%s", cmd); err != nil {
				t.Fatal(err)
			}
		}
		line, err := conn.ReadLine()
		if err != nil || !strings.HasPrefix(line, "+OK") {
			t.Fatalf("cyrus: POP3 %q as %s: %q, %v", cmd, user, line, err)
		}
	}
}
