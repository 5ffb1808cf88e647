//go:build unix

package bench

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// Account is the mailbox every tool fetches from.
type Account struct {
	IMAPSAddr, POP3SAddr string // 127.0.0.1:port each
	User, Password       string
	CAFile               string // PEM of the CA that signed the server's certificate
}

// Addr returns the address for protocol ("IMAPS" or "POP3S").
func (a Account) Addr(protocol string) string {
	if protocol == "POP3S" {
		return a.POP3SAddr
	}
	return a.IMAPSAddr
}

// A Contestant prepares one fresh run of a tool that fetches every message
// of a over protocol into dir, an empty directory of its own: fresh state,
// fresh destination. Check, after the run, counts what arrived.
type Contestant struct {
	Name    string
	Program string // looked up on PATH; "" for one the harness builds
	Command func(a Account, protocol, dir string) (*exec.Cmd, error)
	Check   func(dir string) (int, error)
}

// Mailtask runs `bin run-task` with a config whose task writes every
// attachment into dir/files and keeps its state in dir/state.
func Mailtask(bin string) Contestant {
	return Contestant{
		Name: ToolMailtask,
		Command: func(a Account, protocol, dir string) (*exec.Cmd, error) {
			return runTask(bin, a, protocol, dir, "", "files")
		},
		// The ledger holds one fingerprint per message taken.
		Check: func(dir string) (int, error) {
			fi, err := os.Stat(filepath.Join(dir, "state", "bench.ledger"))
			if err != nil {
				return 0, err
			}
			return int(fi.Size() / 8), nil
		},
	}
}

// MailtaskFilesIn is ToolMailtaskTmpfs: Mailtask with each run's destination a folder of
// its own in root rather than in the run's directory, its state left
// there: root on another filesystem tells the disk's share.
func MailtaskFilesIn(bin, root string) Contestant {
	c := Mailtask(bin)
	c.Name = ToolMailtaskTmpfs
	c.Command = func(a Account, protocol, dir string) (*exec.Cmd, error) {
		files := filepath.Join(root, filepath.Base(dir), "files")
		if err := os.MkdirAll(files, 0o755); err != nil {
			return nil, err
		}
		return runTask(bin, a, protocol, dir, "", files)
	}
	return c
}

// runTask writes dir/mailtask.toml, the top-level keys top and a task
// "bench" taking a's mailbox over protocol into destination, and returns
// `bin run-task` on it, with the password in its environment.
func runTask(bin string, a Account, protocol, dir, top, destination string) (*exec.Cmd, error) {
	host, port, _ := net.SplitHostPort(a.Addr(protocol))
	proto := "imap"
	if protocol == "POP3S" {
		proto = "pop3"
	}
	cfg := fmt.Sprintf(`state_dir = "state"
%s
[accounts.bench]
protocol = %q
host = %q
port = %s
ca_file = %q
username = %q
password_env = "MAILTASK_BENCH_PASSWORD"
[[task]]
name = "bench"
account = "bench"
destination = %q
`, top, proto, host, port, a.CAFile, a.User, destination)
	path := filepath.Join(dir, "mailtask.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run-task", "--config", path, "bench")
	cmd.Env = append(os.Environ(), "MAILTASK_BENCH_PASSWORD="+a.Password)
	return cmd, nil
}

// Getmail runs getmail6 delivering whole messages into a Maildir.
func Getmail() Contestant {
	return Contestant{
		Name:    ToolGetmail,
		Program: "getmail",
		Command: func(a Account, protocol, dir string) (*exec.Cmd, error) {
			maildir, err := makeMaildir(dir)
			if err != nil {
				return nil, err
			}
			host, port, _ := net.SplitHostPort(a.Addr(protocol))
			retriever := "SimpleIMAPSSLRetriever"
			extra := `mailboxes = ("INBOX",)` + "\n"
			if protocol == "POP3S" {
				retriever, extra = "SimplePOP3SSLRetriever", ""
			}
			rc := fmt.Sprintf(`[retriever]
type = %s
server = %s
port = %s
username = %s
password = %s
ca_certs = %s
ssl_cert_hostname = localhost
%s
[destination]
type = Maildir
path = %s/

[options]
verbose = 0
read_all = true
delete = false
delivered_to = false
received = false
message_log_syslog = false
`, retriever, host, port, a.User, a.Password, a.CAFile, extra, maildir)
			path := filepath.Join(dir, "getmailrc")
			if err := os.WriteFile(path, []byte(rc), 0o600); err != nil {
				return nil, err
			}
			cmd := exec.Command("getmail", "--getmaildir", dir, "--rcfile", path)
			return cmd, asNobody(cmd, dir)
		},
		Check: maildirCount,
	}
}

// Fetchmail runs fetchmail handing each whole message to an MDA that
// writes it into a Maildir.
func Fetchmail() Contestant {
	return Contestant{
		Name:    ToolFetchmail,
		Program: "fetchmail",
		Command: func(a Account, protocol, dir string) (*exec.Cmd, error) {
			maildir, err := makeMaildir(dir)
			if err != nil {
				return nil, err
			}
			host, port, _ := net.SplitHostPort(a.Addr(protocol))
			proto := "IMAP"
			if protocol == "POP3S" {
				proto = "POP3"
			}
			// The MDA runs once per message, as fetchmail's do; the shell's
			// PID names the file.
			rc := fmt.Sprintf(`set no bouncemail
poll %s service %s protocol %s auth password
  user %q password %q
  ssl sslcertck sslcertfile %q sslcommonname "localhost"
  fetchall keep
  mda "cat > %s/new/$$.eml"
`, host, port, proto, a.User, a.Password, a.CAFile, maildir)
			path := filepath.Join(dir, "fetchmailrc")
			if err := os.WriteFile(path, []byte(rc), 0o600); err != nil {
				return nil, err
			}
			cmd := exec.Command("fetchmail", "--fetchmailrc", path, "--idfile", filepath.Join(dir, "fetchids"), "--nosyslog", "--silent")
			cmd.Env = append(os.Environ(), "FETCHMAILHOME="+dir)
			return cmd, nil
		},
		Check: maildirCount,
	}
}

func makeMaildir(dir string) (string, error) {
	maildir := filepath.Join(dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o700); err != nil {
			return "", err
		}
	}
	return maildir, nil
}

// asNobody makes cmd run as the user nobody, owning dir, when the harness
// runs as root: getmail refuses to deliver as root, and switching users for
// each delivery, as its "user" setting does, loses track of its delivery
// processes under load ("waiting child pid ... timed out").
func asNobody(cmd *exec.Cmd, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		return fmt.Errorf("getmail refuses to run as root, and there is no user nobody to run it as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(path, uid, gid)
	})
	if err != nil {
		return err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	return nil
}

func maildirCount(dir string) (int, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "Maildir", "new"))
	return len(entries), err
}

// Installed reports whether the contestant's program is on PATH, and if
// not, how to get it.
func Installed(c Contestant) (bool, string) {
	if c.Program == "" {
		return true, ""
	}
	if _, err := exec.LookPath(c.Program); err != nil {
		return false, "not installed (apt-get install " + c.Name + ")"
	}
	return true, ""
}
