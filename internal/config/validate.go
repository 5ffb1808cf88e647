package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"mailtask/internal/pathtmpl"
	"mailtask/internal/s3url"
)

// taskNamePattern keeps task names usable as file names (state, lock,
// ledger) and as command-line arguments.
var taskNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// urlLike matches a destination written as a URL (scheme://...); a
// drive letter (C:/) is no scheme.
var urlLike = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]+://`)

func (c *Config) applyDefaults() {
	if c.StateDir == "" {
		c.StateDir = "state"
	}
	for _, a := range c.Accounts {
		if a.Protocol == "" {
			a.Protocol = ProtocolIMAP
		}
		if a.TLS == "" {
			a.TLS = TLSImplicit
		}
		if a.Auth == "" {
			a.Auth = AuthPassword
		}
		if a.Port == 0 {
			a.Port = defaultPort(a.Protocol, a.TLS)
		}
		if a.Timeout == 0 {
			a.Timeout = Duration(DefaultTimeout)
		}
	}
	for _, t := range c.Tasks {
		if t.Mailbox == "" {
			t.Mailbox = DefaultMailbox
		}
		if t.After == "" {
			t.After = AfterNone
		}
		if t.BatchSize == 0 {
			t.BatchSize = DefaultBatchSize
		}
		if t.MaxMessageSize == 0 {
			t.MaxMessageSize = DefaultMaxMessageSize
		}
		if t.Connections == 0 {
			t.Connections = DefaultConnections
		}
		t.applyRuleDefaults()
		t.applyPushDefaults()
	}
	c.Notify.applyDefaults()
	c.applyDaemonDefaults()
}

func defaultPort(protocol, tls string) int {
	implicit := tls == TLSImplicit
	switch {
	case protocol == ProtocolPOP3 && implicit:
		return 995
	case protocol == ProtocolPOP3:
		return 110
	case implicit:
		return 993
	default:
		return 143
	}
}

// validate checks everything that can be checked without connecting, and
// turns relative paths into absolute ones.
func (c *Config) validate() []error {
	var errs []error
	// A problem with an account or a task is in the file that defines it.
	files := map[string]string{}
	for _, name := range c.AccountNames() {
		files[fmt.Sprintf("account %q", name)] = c.Accounts[name].File
	}
	for i, t := range c.Tasks {
		if label := taskLabel(i, t.Name); files[label] == "" {
			files[label] = t.File
		}
	}
	fail := func(section, key, format string, args ...any) {
		errs = append(errs, &Error{File: c.DefinedIn(files[section]), Section: section, Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	base := filepath.Dir(c.File)
	c.StateDir = resolve(base, c.StateDir)
	if isFilesystemRoot(c.StateDir) {
		fail("", "state_dir", "%q is the filesystem's root; give a folder of mailtask's own, e.g. \"/var/lib/mailtask\"", c.StateDir)
	}

	for _, name := range c.AccountNames() {
		a := c.Accounts[name]
		at := fmt.Sprintf("account %q", name)
		base := c.dirOf(a.File)
		switch a.Protocol {
		case ProtocolIMAP, ProtocolPOP3:
		default:
			fail(at, "protocol", "%q is not one of imap, pop3", a.Protocol)
		}
		if a.Host == "" {
			fail(at, "host", "missing (e.g. host = \"outlook.office365.com\")")
		}
		if a.Port < 1 || a.Port > 65535 {
			fail(at, "port", "%d is not a TCP port", a.Port)
		}
		switch a.TLS {
		case TLSImplicit, TLSStartTLS:
		case TLSNone:
			if a.Host != "" && !isLoopback(a.Host) {
				fail(at, "tls", "\"none\" sends the password in clear text and is allowed only for loopback hosts, not %q; use \"implicit\" or \"starttls\"", a.Host)
			}
		default:
			fail(at, "tls", "%q is not one of implicit, starttls, none", a.TLS)
		}
		if a.CAFile != "" {
			a.CAFile = resolve(base, a.CAFile)
			if _, err := os.Stat(a.CAFile); err != nil {
				fail(at, "ca_file", "%v", err)
			}
		}
		checkDuration(fail, at, "timeout", a.Timeout.Std(), MinTimeout, MaxAccountTimeout, "")
		checkDuration(fail, at, "search_settle", a.Settle(), 0, MaxSearchSettle, `"0s" records what the search leaves out as done at once`)
		switch a.ServerSearch {
		case "", ServerSearchFlags, ServerSearchAll:
		default:
			fail(at, "server_search", "%q is not one of flags (the default: mailtask checks the header, date and size rules itself), all (the server's SEARCH, trusted to follow RFC 3501)", a.ServerSearch)
		}
		if a.Username == "" {
			fail(at, "username", "missing (the mailbox's sign-in name, e.g. \"invoices@contoso.com\")")
		}
		switch a.Auth {
		case AuthPassword:
			sources := 0
			for _, set := range []bool{a.Password != "", a.PasswordEnv != "", a.PasswordFile != ""} {
				if set {
					sources++
				}
			}
			switch {
			case sources == 0:
				fail(at, "password_env", "no password given: set one of password_env, password_file or password")
			case sources > 1:
				fail(at, "password", "set only one of password, password_env, password_file")
			}
			if a.PasswordFile != "" {
				a.PasswordFile = resolve(base, a.PasswordFile)
			}
		case AuthOAuth2:
		default:
			fail(at, "auth", "%q is not one of password, oauth2", a.Auth)
		}
		c.validateOAuth2(at, a, base, fail)
	}

	firstIndex := map[string]int{}
	for i, t := range c.Tasks {
		at := taskLabel(i, t.Name)
		switch {
		case t.Name == "":
			fail(at, "name", "missing")
		case !taskNamePattern.MatchString(t.Name):
			fail(at, "name", "%q may hold only letters, digits, '.', '_' and '-', start with a letter or digit, and be at most 64 characters", t.Name)
		default:
			first, dup := firstIndex[t.Name]
			switch {
			case dup && c.Tasks[first].File != t.File:
				// fail would name the first task's file, as the label is the same.
				errs = append(errs, &Error{File: c.DefinedIn(t.File), Section: at, Key: "name", Msg: fmt.Sprintf("is the name of a task in %s too; task names must be unique", c.DefinedIn(c.Tasks[first].File))})
			case dup:
				fail(at, "name", "task #%d already has this name; task names must be unique", first+1)
			default:
				firstIndex[t.Name] = i
			}
		}

		base := c.dirOf(t.File)
		acct, ok := c.Accounts[t.Account]
		switch {
		case t.Account == "":
			fail(at, "account", "missing (one of: %s)", c.accountNames())
		case !ok:
			fail(at, "account", "no account %q is defined (defined: %s)", t.Account, c.accountNames())
		}
		if t.Destination == "" {
			fail(at, "destination", "missing (the folder attachments are written to, or s3://bucket/prefix)")
		} else if urlLike.MatchString(t.Destination) && !s3url.Is(t.Destination) {
			// It would be taken for a folder named "S3:" or "gs:" beside
			// the configuration file.
			fail(at, "destination", "%q looks like a URL, but the only one a destination may be is s3://bucket/prefix (the scheme in lowercase); anything else is a folder", t.Destination)
		} else if !s3url.Is(t.Destination) {
			t.Destination = resolve(base, t.Destination)
			if root, _ := pathtmpl.SplitRoot(t.Destination); isFilesystemRoot(root) {
				fail(at, "destination", "%q puts files at the filesystem's root; give a folder of their own, e.g. \"/srv/drop/invoices\"", t.Destination)
			}
		}
		if t.Schedule != "" {
			if _, err := ParseSchedule(t.Schedule); err != nil {
				fail(at, "schedule", "%v", err)
			}
		}
		checkAction(at, "after", "move_to", t.After, t.MoveTo, t.Mailbox, fail)
		if ok && acct.Protocol == ProtocolPOP3 {
			if t.After != AfterNone && t.After != AfterDelete {
				fail(at, "after", "%q needs IMAP; POP3 account %q can only leave (\"none\") or \"delete\" messages", t.After, t.Account)
			}
			if t.Mailbox != DefaultMailbox {
				fail(at, "mailbox", "POP3 account %q has only the inbox; remove mailbox or use IMAP", t.Account)
			}
		}
		checkCount(fail, at, "max_messages", t.MaxMessages, 0, MaxMaxMessages)
		checkCount(fail, at, "batch_size", t.BatchSize, 1, 1000)
		checkSize(fail, at, "max_message_size", t.MaxMessageSize, MinMaxMessageSize, MaxMaxMessageSize)
		checkCount(fail, at, "connections", t.Connections, 1, 100)
		c.validateTaskRules(at, t, acct, fail)
	}
	c.validateNotify(fail)
	c.validateDaemon(fail)
	c.validateCluster(base, fail)
	c.validatePush(fail)
	// With include, no task is a configuration waiting for its files:
	// the first customer's, or after the last one's went.
	if len(c.Tasks) == 0 && len(c.Include) == 0 {
		errs = append(errs, &Error{File: c.File, Msg: "no [[task]] defined"})
	}
	return errs
}

// dirOf is the folder relative paths in file, where an account or task
// is defined, are relative to.
func (c *Config) dirOf(file string) string { return filepath.Dir(c.DefinedIn(file)) }

// DefinedIn is the file an account or task with File file is defined in:
// the main file for one built in code, whose File is "".
func (c *Config) DefinedIn(file string) string {
	if file == "" {
		return c.File
	}
	return file
}

// accountNames is AccountNames for a message that suggests one: the
// first few, as a configuration that includes a file per mailbox has
// thousands.
func (c *Config) accountNames() string {
	const shown = 10
	names := c.AccountNames()
	switch {
	case len(names) == 0:
		return "none; add an [accounts.NAME] table"
	case len(names) > shown:
		return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
	}
	return strings.Join(names, ", ")
}

// resolve makes p absolute against the config file's directory, expanding
// a leading "~/" the way shells do, since configs are often written by hand.
func resolve(base, p string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[2:])
		}
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
