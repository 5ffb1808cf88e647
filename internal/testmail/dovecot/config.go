package dovecot

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"
)

// configTemplate is a complete Dovecot 2.3 configuration: nothing from
// /etc/dovecot is included, so the system's setup cannot leak into tests.
var configTemplate = template.Must(template.New("dovecot.conf").Parse(`# Written by mailtask's test harness (internal/testmail/dovecot). Dovecot 2.3 syntax.
# The instance name marks its processes ("dovecot-mailtask-test/imap") in ps.
instance_name = mailtask-test
base_dir = {{.Dir}}/run
state_dir = {{.Dir}}/state
log_path = {{.Dir}}/dovecot.log

listen = 127.0.0.1
protocols = imap pop3

default_internal_user = {{.InternalUser}}
default_internal_group = {{.InternalGroup}}
default_login_user = {{.LoginUser}}
first_valid_uid = {{.MailUID}}
first_valid_gid = {{.MailGID}}

# Plaintext logins are fine on loopback, and tests cover both TLS styles.
auth_mechanisms = plain login
disable_plaintext_auth = no
# Tests of wrong passwords should not wait out the default two seconds.
auth_failure_delay = 0
ssl = yes
ssl_cert = <{{.Dir}}/cert.pem
ssl_key = <{{.Dir}}/key.pem

mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
# Overlap and concurrency tests open many sessions from 127.0.0.1.
mail_max_userip_connections = 1000

namespace inbox {
  inbox = yes
  separator = /
}

passdb {
  driver = passwd-file
  args = scheme=PLAIN {{.Dir}}/passwd
}
userdb {
  driver = static
  args = uid={{.MailUID}} gid={{.MailGID}} home={{.Dir}}/home/%u
}

# chroot needs root; disabling it everywhere keeps one configuration for
# root and non-root runs.
service anvil {
  chroot =
}
service imap-login {
  chroot =
  inet_listener imap {
    port = {{.IMAPPort}}
  }
  inet_listener imaps {
    port = {{.IMAPSPort}}
    ssl = yes
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    port = {{.POP3Port}}
  }
  inet_listener pop3s {
    port = {{.POP3SPort}}
    ssl = yes
  }
}
{{if .Extra}}
# Options.Extra: later settings override earlier ones, passdb blocks add up.
{{.Extra}}
{{end}}`))

// configData is what the template fills in; text/template reads exported
// fields only.
type configData struct {
	Dir                                      string
	InternalUser, InternalGroup, LoginUser   string
	MailUID, MailGID                         int
	IMAPPort, IMAPSPort, POP3Port, POP3SPort string
	Extra                                    string
}

func writeConfig(path string, d configData) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := configTemplate.Execute(f, d); err != nil {
		f.Close()
		return fmt.Errorf("render %s: %w", path, err)
	}
	return f.Close()
}

// writePasswd writes the passwd-file passdb. Only the internal user (which
// is the mail user, see identity) reads it, so it stays private to that user.
func writePasswd(path string, users map[string]string, id identity) error {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(users)) {
		fmt.Fprintf(&b, "%s:{PLAIN}%s\n", name, users[name])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Chown(path, id.mailUID, id.mailGID)
}

// checkUsers refuses what the passwd file or a home directory cannot hold,
// naming the entry to fix.
func checkUsers(users map[string]string) error {
	for name, pass := range users {
		if name == "" || strings.ContainsAny(name, ":/\\ \t\r\n\x00") || strings.HasPrefix(name, ".") {
			return fmt.Errorf("dovecot: Options.Users: user name %q must be non-empty, not start with '.', and hold no ':', '/', '\\', whitespace or NUL", name)
		}
		if strings.ContainsAny(pass, ":\r\n\x00") {
			return fmt.Errorf("dovecot: Options.Users: password of %q holds ':', a line break or NUL, which passwd-file cannot store", name)
		}
	}
	return nil
}

// makeHome creates a user's home so that Dovecot, running as the mail user,
// can create the Maildir in it on first login.
func makeHome(dir, user string, id identity) error {
	home := filepath.Join(dir, "home", user)
	if err := os.Mkdir(home, 0o700); err != nil {
		return err
	}
	return os.Chown(home, id.mailUID, id.mailGID)
}
