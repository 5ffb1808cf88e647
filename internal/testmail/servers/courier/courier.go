// Package courier runs Courier IMAP and POP3 (courier-imap 5.0, Debian's)
// for tests, from the private root of package servers, as Debian runs
// them but inetd-style: for each connection imaplogin (courierpop3login)
// checks the password with authdaemond, which looks the user up in a
// userdb, and then runs imapd (courierpop3d) on the user's Maildir. The
// settings are Debian's /etc/courier/imapd and pop3d, read as Debian's
// start scripts read them; authdaemond's are the harness's.
//
// Courier reads /etc/courier and reaches authdaemond through
// /run/courier/authdaemon, paths compiled into it: every process runs in a
// private mount namespace where those are the test's (and /usr is the
// root's, for the modules authdaemond loads), which needs root.
//
// Courier has UIDPLUS without MOVE, ACLs, and maildir quotas: the server
// on which a refused COPY used to cost mail.
//
// Without the root it skips the test, or fails it under CI=true.
package courier

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailtask/internal/testmail/servers"
)

var programs = []string{
	"usr/lib/courier/courier/imaplogin", "usr/bin/imapd",
	"usr/lib/courier/courier/courierpop3login", "usr/lib/courier/courier/courierpop3d",
	"usr/lib/courier/courier-authlib/authdaemond", "usr/lib/courier/courier-authlib/makedatprog",
	"usr/lib/courier-authlib/libauthuserdb.so", "usr/bin/maildirmake.courier", "usr/bin/maildiracl",
	"usr/libexec/gam_server",
}

// Server is one Courier serving users' Maildirs under Dir.
type Server struct {
	IMAPAddr, POP3Addr string // 127.0.0.1:port, plain text
	Dir                string
	root               servers.Root
	uid, gid           int
	inetds             []*servers.Inetd
}

// Options shape a Server.
type Options struct {
	Users map[string]string // name -> password
}

// Start serves opts.Users over IMAP and POP3 until t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	root := servers.Find(t, programs...)
	servers.NeedRoot(t)
	s := &Server{Dir: servers.Dir(t, "courier"), root: root, uid: 65534, gid: 65534}
	if err := s.write(opts); err != nil {
		t.Fatal(err)
	}
	ns := root.Namespace(t,
		servers.Mount{Target: "/usr", Layers: []string{root.Path("usr")}},
		servers.Mount{Target: "/etc", Layers: []string{filepath.Join(s.Dir, "etc"), root.Path("etc")}},
		servers.Mount{Target: "/run", Bind: filepath.Join(s.Dir, "run")},
	)
	log := servers.Log(t, s.Dir, "courier")
	gamin := "GAM_CLIENT_ID=" + filepath.Base(s.Dir)
	if err := s.startGamin(t, gamin, log); err != nil {
		t.Fatal(err)
	}
	if err := s.startAuthdaemond(t, ns, log); err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		addr                    *string
		port, config, login, do string
	}{
		{&s.IMAPAddr, "143", "imapd", "/usr/lib/courier/courier/imaplogin", "/usr/bin/imapd"},
		{&s.POP3Addr, "110", "pop3d", "/usr/lib/courier/courier/courierpop3login", "/usr/lib/courier/courier/courierpop3d"},
	} {
		// What couriertcpd would say of the connection: the login
		// programs need it.
		env := append(root.Env(), gamin, "TCPREMOTEIP=127.0.0.1", "TCPREMOTEPORT=0", "TCPLOCALIP=127.0.0.1", "TCPLOCALPORT="+l.port)
		script := fmt.Sprintf(`set -a; . /etc/courier/%s; exec %s %s "$MAILDIRPATH"`, l.config, l.login, l.do)
		d, err := servers.StartInetd(ns.Command("sh", "-c", script), env, log)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		*l.addr = d.Addr()
		s.inetds = append(s.inetds, d)
	}
	return s
}

// write writes authdaemond's settings, the userdb and the users' Maildirs.
func (s *Server) write(opts Options) error {
	for _, dir := range []string{"etc/courier", "run/courier/authdaemon", "home"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, dir), 0o755); err != nil {
			return err
		}
	}
	rc := "# Written by mailtask's test harness (internal/testmail/servers/courier).\nauthmodulelist=\"authuserdb\"\ndaemons=2\nauthdaemonvar=/run/courier/authdaemon\nDEBUG_LOGIN=0\n"
	if err := os.WriteFile(filepath.Join(s.Dir, "etc/courier/authdaemonrc"), []byte(rc), 0o644); err != nil {
		return err
	}
	var users, shadow strings.Builder
	for _, name := range slices.Sorted(maps.Keys(opts.Users)) {
		home := s.home(name)
		if err := os.MkdirAll(home, 0o755); err != nil {
			return err
		}
		if err := s.run("usr/bin/maildirmake.courier", s.maildir(name)); err != nil {
			return err
		}
		if err := s.chownAll(home); err != nil {
			return err
		}
		hash, err := servers.CryptSHA512(opts.Users[name])
		if err != nil {
			return err
		}
		fmt.Fprintf(&users, "%s\tuid=%d|gid=%d|home=%s|mail=%s\n", name, s.uid, s.gid, home, s.maildir(name))
		fmt.Fprintf(&shadow, "%s\tsystempw=%s\n", name, hash)
	}
	// What makeuserdb would make of /etc/courier/userdb: the database,
	// and the passwords in a database of their own.
	for _, db := range []struct{ name, text string }{{"userdb", users.String()}, {"userdbshadow", shadow.String()}} {
		base := filepath.Join(s.Dir, "etc/courier", db.name)
		cmd := exec.Command(s.root.Path("usr/lib/courier/courier-authlib/makedatprog"), "-", base+".tmp", base+".dat")
		cmd.Env = s.root.Env()
		cmd.Stdin = strings.NewReader(db.text + ".\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("courier: makedatprog %s: %v: %s", db.name, err, out)
		}
	}
	return nil
}

// startGamin runs gamin's server for the users' ID until t ends, and waits
// for its socket. imapd watches the Maildir through it; without it, each
// login and each SELECT would wait over a second for a server that does
// not come, and then greet with an alert. With the server never timing
// out, imapd never starts one of its own.
func (s *Server) startGamin(t testing.TB, clientID string, log *os.File) error {
	cmd := exec.Command(s.root.Path("usr/libexec/gam_server"), "--notimeout")
	cmd.Env = append(s.root.Env(), clientID)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.gid)},
		Pdeathsig:  syscall.SIGKILL,
	}
	exited, err := servers.Start(t, cmd)
	if err != nil {
		return err
	}
	// An abstract socket named for the user and the client ID, padded
	// with NULs, which the kernel's table shows as "@".
	socket := fmt.Sprintf(" @/tmp/fam-%s-%s", servers.UserName(s.uid), strings.TrimPrefix(clientID, "GAM_CLIENT_ID="))
	return servers.WaitFor("courier: gam_server's socket", exited, func() bool {
		table, err := os.ReadFile("/proc/net/unix")
		return err == nil && (bytes.Contains(table, []byte(socket+"@")) || bytes.Contains(table, []byte(socket+"\n")))
	})
}

// startAuthdaemond runs authdaemond in the namespace until t ends, and
// waits for its socket.
func (s *Server) startAuthdaemond(t testing.TB, ns *servers.Namespace, log *os.File) error {
	argv := ns.Command("/usr/lib/courier/courier-authlib/authdaemond")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = s.root.Env()
	cmd.Stdout, cmd.Stderr = log, log
	// In a group of its own, with the children it forks, so that one
	// signal to its PID's group ends them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	exited, err := servers.Start(t, cmd)
	if err != nil {
		return err
	}
	return servers.WaitFor("courier: authdaemond's socket", exited, func() bool {
		_, err := os.Stat(filepath.Join(s.Dir, "run/courier/authdaemon/socket"))
		return err == nil
	})
}

func (s *Server) home(user string) string    { return filepath.Join(s.Dir, "home", user) }
func (s *Server) maildir(user string) string { return filepath.Join(s.home(user), "Maildir") }

// folderDir is the maildir++ directory of a folder: INBOX is the Maildir,
// INBOX.Name its .Name.
func (s *Server) folderDir(user, folder string) string {
	if name, ok := strings.CutPrefix(folder, "INBOX."); ok {
		return filepath.Join(s.maildir(user), "."+name)
	}
	return s.maildir(user)
}

// run runs a tool of the root as root, outside the namespace.
func (s *Server) run(tool string, args ...string) error {
	cmd := exec.Command(s.root.Path(tool), args...)
	cmd.Env = s.root.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("courier: %s %s: %v: %s", filepath.Base(tool), strings.Join(args, " "), err, out)
	}
	return nil
}

// chownAll gives the users' IDs what root wrote under dir.
func (s *Server) chownAll(dir string) error {
	return filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, s.uid, s.gid)
	})
}

// CreateFolder makes folder ("INBOX.Name") in the user's Maildir, as
// maildirmake -f does.
func (s *Server) CreateFolder(t testing.TB, user, folder string) {
	t.Helper()
	name, ok := strings.CutPrefix(folder, "INBOX.")
	if !ok {
		t.Fatalf("courier: folder %q: Courier's folders are INBOX.Name", folder)
	}
	if err := s.run("usr/bin/maildirmake.courier", "-f", name, s.maildir(user)); err != nil {
		t.Fatal(err)
	}
	if err := s.chownAll(s.maildir(user)); err != nil {
		t.Fatal(err)
	}
}

// Seed delivers raws into the user's folder as new messages, with
// newlines as a Maildir holds them (imapd sends them as CRLF); with flags
// (maildir's letters, e.g. "T" for \Deleted) they are filed as a client
// that set those flags leaves them.
func (s *Server) Seed(t testing.TB, user, folder, flags string, raws ...[]byte) {
	t.Helper()
	dir := s.folderDir(user, folder)
	for i, raw := range raws {
		name := fmt.Sprintf("%d.M%dP%d.mailtask-test", time.Now().Unix(), time.Now().UnixNano()%1e9, i)
		path := filepath.Join(dir, "new", name)
		if flags != "" {
			path = filepath.Join(dir, "cur", name+":2,"+flags)
		}
		if err := os.WriteFile(path, unixNewlines(raw), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(path, s.uid, s.gid); err != nil {
			t.Fatal(err)
		}
	}
}

// Message is a message file of a folder.
type Message struct {
	Raw   []byte
	Flags string // maildir's letters: S seen, T deleted, ...
}

// Messages returns what the user's folder holds, in no particular order,
// once no session is running (servers.Inetd.Quiet).
func (s *Server) Messages(t testing.TB, user, folder string) []Message {
	t.Helper()
	servers.WaitQuiet(t, s.inetds...)
	var msgs []Message
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(s.folderDir(user, folder), sub)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			_, flags, _ := strings.Cut(e.Name(), ":2,")
			msgs = append(msgs, Message{Raw: raw, Flags: flags})
		}
	}
	return msgs
}

// Contains reports whether msgs hold raw, whatever its newlines.
func Contains(msgs []Message, raw []byte) bool {
	return slices.ContainsFunc(msgs, func(m Message) bool { return bytes.Equal(m.Raw, unixNewlines(raw)) })
}

func unixNewlines(raw []byte) []byte { return bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")) }

// SetQuota gives the user's Maildir a quota (maildirmake -q, e.g. "1000S"
// for 1,000 bytes, "10C" for ten messages), which imapd enforces on APPEND
// and COPY with "NO [ALERT] You exceeded your mail quota.".
func (s *Server) SetQuota(t testing.TB, user, quota string) {
	t.Helper()
	if err := s.run("usr/bin/maildirmake.courier", "-q", quota, s.maildir(user)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(s.maildir(user), "maildirsize"), s.uid, s.gid); err != nil {
		t.Fatal(err)
	}
}

// ClearQuota lifts the user's quota.
func (s *Server) ClearQuota(t testing.TB, user string) {
	t.Helper()
	if err := os.Remove(filepath.Join(s.maildir(user), "maildirsize")); err != nil {
		t.Fatal(err)
	}
}

// SetACL changes identifier's rights on the user's folder with maildiracl
// (rights such as "-i" or "+i").
func (s *Server) SetACL(t testing.TB, user, folder, identifier, rights string) {
	t.Helper()
	if err := s.run("usr/bin/maildiracl", "-set", s.maildir(user), folder, identifier, rights); err != nil {
		t.Fatal(err)
	}
	if err := s.chownAll(s.folderDir(user, folder)); err != nil {
		t.Fatal(err)
	}
}
