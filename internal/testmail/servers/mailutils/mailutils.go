// Package mailutils runs GNU Mailutils' imap4d and pop3d (3.15, Debian's)
// for tests, from the private root of package servers: one inetd-style
// listener per protocol on loopback, a process per connection, users from
// a virtual-domain password file, mailboxes in mbox files that tests write
// and read directly.
//
// It reproduces, with the real server, what mailtask must cope with on
// Mailutils: "UID SEARCH UID n:*" answered with an empty SEARCH, a new
// UIDVALIDITY on every read-only session of an mbox never opened
// read-write, and its own wording of refusals.
package mailutils

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtask/internal/testmail"
	"mailtask/internal/testmail/servers"
)

// Domain is the virtual domain of every user: users sign in as
// NAME@Domain.
const Domain = "test"

var programs = []string{"usr/sbin/imap4d", "usr/sbin/pop3d"}

// Server is one configuration of imap4d and pop3d serving users'
// mailboxes under Dir.
type Server struct {
	IMAPAddr, POP3Addr string // 127.0.0.1:port, plain text (STARTTLS/STLS with Options.Extra)
	Dir                string
	CA                 *testmail.CA // signs the certificate Dir/cert.pem, key Dir/key.pem
	uid, gid           int
	inetds             []*servers.Inetd
}

// Options shape a Server.
type Options struct {
	Users map[string]string // name -> password
	// Extra is appended to the servers' configuration; "{DIR}" in it
	// stands for Dir, e.g. for the certificate:
	//
	//	tls { ssl-certificate-file "{DIR}/cert.pem"; ssl-key-file "{DIR}/key.pem"; };
	Extra string
}

// Start serves opts.Users over IMAP and POP3 until t ends. Without the
// servers it skips t, or fails it under CI=true.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	root := servers.Find(t, programs...)
	ca, err := testmail.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Dir: t.TempDir(), CA: ca, uid: os.Getuid(), gid: os.Getgid()}
	if s.uid == 0 {
		// The servers switch to the user's IDs: not root's.
		s.uid, s.gid = 65534, 65534
	}
	if err := s.write(opts); err != nil {
		t.Fatal(err)
	}
	log := servers.Log(t, s.Dir, "mailutils")
	conf := filepath.Join(s.Dir, "mailutils.conf")
	for i, program := range programs {
		d, err := servers.StartInetd([]string{root.Path(program), "--config-file=" + conf, "--inetd"}, root.Env(), log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		s.inetds = append(s.inetds, d)
		if i == 0 {
			s.IMAPAddr = d.Addr()
		} else {
			s.POP3Addr = d.Addr()
		}
	}
	return s
}

// write writes the configuration, the password file and the users' homes.
func (s *Server) write(opts Options) error {
	pwDir := filepath.Join(s.Dir, "passwd")
	if err := os.MkdirAll(pwDir, 0o755); err != nil {
		return err
	}
	// The servers refuse a key in a directory others may write to.
	if err := os.WriteFile(filepath.Join(s.Dir, "cert.pem"), s.CA.ServerPEM, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "key.pem"), s.CA.KeyPEM, 0o600); err != nil {
		return err
	}
	var pw strings.Builder
	for name, pass := range opts.Users {
		home := s.home(name)
		if err := os.MkdirAll(home, 0o700); err != nil {
			return err
		}
		if err := os.Chown(home, s.uid, s.gid); err != nil {
			return err
		}
		hash, err := servers.CryptSHA512(pass)
		if err != nil {
			return err
		}
		fmt.Fprintf(&pw, "%s:%s:%d:%d:%s:%s:/bin/false\n", name, hash, s.uid, s.gid, name, home)
	}
	if err := os.WriteFile(filepath.Join(pwDir, Domain), []byte(pw.String()), 0o644); err != nil {
		return err
	}
	// The whole tree must be reachable by the users' IDs.
	if err := os.Chmod(s.Dir, 0o755); err != nil {
		return err
	}
	conf := fmt.Sprintf(`# Written by mailtask's test harness (internal/testmail/servers/mailutils).
auth {
  authorization virtdomain;
  authentication generic;
};
virtdomain {
  passwd-dir %q;
};
logging {
  syslog false;
};
`, pwDir) + strings.ReplaceAll(opts.Extra, "{DIR}", s.Dir)
	return os.WriteFile(filepath.Join(s.Dir, "mailutils.conf"), []byte(conf), 0o644)
}

func (s *Server) home(user string) string { return filepath.Join(s.Dir, "home", user) }

// folder is the mbox file of a user's folder: INBOX, or a file of that
// name in the home.
func (s *Server) folder(user, name string) string {
	return filepath.Join(s.home(user), name)
}

// Seed appends raws to the user's folder (INBOX or another), creating it,
// in mboxrd form.
func (s *Server) Seed(t testing.TB, user, folder string, raws ...[]byte) {
	t.Helper()
	servers.AppendMbox(t, s.folder(user, folder), s.uid, s.gid, raws...)
}

// Count returns how many messages the user's folder holds, 0 when it does
// not exist, once no session is running (servers.Inetd.Quiet).
func (s *Server) Count(t testing.TB, user, folder string) int {
	t.Helper()
	servers.WaitQuiet(t, s.inetds...)
	return servers.CountMbox(t, s.folder(user, folder))
}
