// Package popa3d runs popa3d 1.0 (Debian's), Openwall's tiny POP3
// server, for tests, from the private root of package servers,
// inetd-style as Debian runs it: a process per connection, started as
// root, which checks the password through PAM against /etc/shadow with a
// child running as the user popa3d chrooted to /var/lib/popa3d, then
// serves /var/mail/USER as that user.
//
// Those paths are compiled into it: each process runs in a private mount
// namespace whose /etc holds the machine's users and the test's (and
// Debian's /etc/pam.d/popa3d), whose /var/lib/popa3d is the package's, and
// whose /var/mail is the test's spool. That needs root.
package popa3d

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"mailtask/internal/testmail/servers"
)

var programs = []string{"usr/sbin/popa3d", "etc/pam.d/popa3d", "var/lib/popa3d"}

// The users' IDs, and the ID of the user popa3d, which the machine's
// /etc/passwd may lack.
const (
	mailUID, mailGID     = 65534, 65534
	popa3dUID, popa3dGID = 65533, 65533
)

// Server is one popa3d serving users' mailboxes in Dir/mail.
type Server struct {
	POP3Addr string // 127.0.0.1:port, plain text (popa3d has no TLS)
	Dir      string
	inetd    *servers.Inetd
}

// Options shape a Server.
type Options struct {
	Users map[string]string // name -> password
}

// Start serves opts.Users over POP3 until t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	root := servers.Find(t, programs...)
	servers.NeedRoot(t)
	s := &Server{Dir: servers.Dir(t, "popa3d")}
	if err := s.write(opts); err != nil {
		t.Fatal(err)
	}
	ns := root.Namespace(t,
		servers.Mount{Target: "/etc", Layers: []string{filepath.Join(s.Dir, "etc"), root.Path("etc")}},
		servers.Mount{Target: "/var", Layers: []string{filepath.Join(s.Dir, "var"), root.Path("var")}},
		servers.Mount{Target: "/var/mail", Bind: filepath.Join(s.Dir, "mail")},
	)
	log := servers.Log(t, s.Dir, "popa3d")
	d, err := servers.StartInetd(ns.Command(root.Path("usr/sbin/popa3d")), root.Env(), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	s.POP3Addr, s.inetd = d.Addr(), d
	return s
}

// write writes the namespace's /etc/passwd, /etc/group and /etc/shadow:
// the machine's, with the users and popa3d's own; its /var/mail mount
// point; and the spool.
func (s *Server) write(opts Options) error {
	for _, dir := range []string{"etc", "var/mail", "mail"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, dir), 0o755); err != nil {
			return err
		}
	}
	var passwd, shadow string
	for _, name := range slices.Sorted(maps.Keys(opts.Users)) {
		hash, err := servers.CryptSHA512(opts.Users[name])
		if err != nil {
			return err
		}
		passwd += fmt.Sprintf("%s:x:%d:%d:%s:/nonexistent:/usr/sbin/nologin\n", name, mailUID, mailGID, name)
		shadow += fmt.Sprintf("%s:%s:19000:0:99999:7:::\n", name, hash)
	}
	passwd += fmt.Sprintf("popa3d:x:%d:%d:popa3d:/var/lib/popa3d:/usr/sbin/nologin\n", popa3dUID, popa3dGID)
	shadow += "popa3d:*:19000:0:99999:7:::\n"
	for _, f := range []struct {
		name, extra string
		perm        os.FileMode
	}{
		{"passwd", passwd, 0o644},
		{"group", fmt.Sprintf("popa3d:x:%d:\n", popa3dGID), 0o644},
		{"shadow", shadow, 0o640},
	} {
		machine, err := os.ReadFile(filepath.Join("/etc", f.name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(s.Dir, "etc", f.name), append(machine, f.extra...), f.perm); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) mailbox(user string) string { return filepath.Join(s.Dir, "mail", user) }

// Seed appends raws to the user's mailbox.
func (s *Server) Seed(t testing.TB, user string, raws ...[]byte) {
	t.Helper()
	servers.AppendMbox(t, s.mailbox(user), mailUID, mailGID, raws...)
}

// Count returns how many messages the user's mailbox holds, once no
// session is running (servers.Inetd.Quiet).
func (s *Server) Count(t testing.TB, user string) int {
	t.Helper()
	servers.WaitQuiet(t, s.inetd)
	return servers.CountMbox(t, s.mailbox(user))
}
