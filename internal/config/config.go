package config

import (
	"net"
	"slices"
	"strconv"
	"time"
)

// Config is a loaded and validated configuration file.
type Config struct {
	// File is the absolute path the configuration was read from.
	File string `toml:"-"`
	// StateDir holds one state file, lock and ledger per task.
	StateDir string              `toml:"state_dir"`
	Accounts map[string]*Account `toml:"accounts"`
	Tasks    []*Task             `toml:"task"`
	Notify   *Notify             `toml:"notify"`
	// Include lists the files, or glob patterns of files, whose accounts
	// and tasks join the main file's (include.go): one file per mailbox.
	Include []string `toml:"include"`
	// Included is the files Include matched, in the order they were read.
	Included []string `toml:"-"`
	// The daemon's keys (max_concurrent_tasks, log_*, listen...): daemon.go.
	Daemon
	// Cluster mode's keys (state_store, token_key_*, s3_*): cluster.go.
	Cluster

	// accountOrder names the accounts in the order the file defines them,
	// so that what lists them (validation errors above all) comes out the
	// same on every run, not in the map's order.
	accountOrder []string
}

// Account is one mailbox login.
type Account struct {
	Name string `toml:"-"`
	// File is the configuration file that defines the account: relative
	// paths in it are relative to that file's folder. It is not part of
	// what runs, so cluster mode's digest of the accounts leaves it out.
	File               string `toml:"-" json:"-"`
	Protocol           string `toml:"protocol"`
	Host               string `toml:"host"`
	Port               int    `toml:"port"`
	TLS                string `toml:"tls"`
	CAFile             string `toml:"ca_file"`
	InsecureSkipVerify bool   `toml:"insecure_skip_verify"`
	Username           string `toml:"username"`
	Auth               string `toml:"auth"`
	Password           Secret `toml:"password"`
	PasswordEnv        string `toml:"password_env"`
	PasswordFile       string `toml:"password_file"`
	// OAuth2 is the [accounts.NAME.oauth2] table, for auth = "oauth2": oauth2.go.
	OAuth2 *OAuth2 `toml:"oauth2"`
	// Timeout bounds every network operation (connect, each command, each
	// read while streaming a message). A stalled server fails within it.
	Timeout Duration `toml:"timeout"`
	// MaxConnections bounds the connections to this account's mailbox at
	// once: each run's own, and those its task's Connections add while
	// they are free (daemon.go).
	MaxConnections int `toml:"max_connections"`
	// SearchSettle is how long a message the rules' IMAP search leaves
	// out stays new, searched again by each run, before it is recorded as
	// done: a server whose search goes through an index (Exchange, Gmail)
	// can leave out mail that arrived just before, until the index catches
	// up. 0 records it as done at once; nil (unset), the default.
	SearchSettle *Delay `toml:"search_settle"`
	// ServerSearch is which of a task's rules go into the IMAP server's
	// SEARCH: ServerSearchFlags (the default when empty) or
	// ServerSearchAll.
	ServerSearch string `toml:"server_search"`
}

// Addr is the account's server as host:port.
func (a *Account) Addr() string { return net.JoinHostPort(a.Host, strconv.Itoa(a.Port)) }

// SearchesAll reports whether the admin trusts the account's IMAP SEARCH
// with the header, date and size rules (server_search = "all").
func (a *Account) SearchesAll() bool { return a.ServerSearch == ServerSearchAll }

// Settle is SearchSettle, or its default when unset.
func (a *Account) Settle() time.Duration {
	if a.SearchSettle == nil {
		return DefaultSearchSettle
	}
	return a.SearchSettle.Std()
}

// Task is one ingestion job: a mailbox of an account, polled on a schedule,
// whose attachments land in a destination folder.
type Task struct {
	// File is the configuration file that defines the task: relative
	// paths in it are relative to that file's folder. It is not part of
	// what runs, so cluster mode's digest of the tasks leaves it out.
	File        string `toml:"-" json:"-"`
	Name        string `toml:"name"`
	Account     string `toml:"account"`
	Schedule    string `toml:"schedule"`
	Mailbox     string `toml:"mailbox"`
	Destination string `toml:"destination"`
	After       string `toml:"after"`
	MoveTo      string `toml:"move_to"`
	// MaxMessages caps how many new messages one run takes (0: no cap), so
	// a first poll of a large mailbox is spread over several runs.
	MaxMessages int `toml:"max_messages"`
	// MaxMessageSize is the largest message a run downloads; a larger one
	// is kept aside with its header only.
	MaxMessageSize Size `toml:"max_message_size"`
	// BatchSize is how many messages are fetched per request and committed
	// together; a run makes a batch smaller when its messages announce
	// more than 64 MiB (tasks/popimap).
	BatchSize int `toml:"batch_size"`
	// Connections is how many connections a run may fetch over at once,
	// bounded by the account's max_connections.
	Connections int `toml:"connections"`
	// Scheduling and run bounds (jitter, timeout, retries): daemon.go.
	RunLimits
	// Push delivery over IMAP IDLE (idle, idle_reissue): push.go.
	Push
	// Rules, outputs, actions and hooks: rules.go.
	Match       Match       `toml:"match"`
	Attachments Attachments `toml:"attachments"`
	Output      Output      `toml:"output"`
	Actions
	Hooks
	// TimeZone is the zone of {yyyy}/{mm}/{dd} and of since dates; Location
	// is it resolved (default: the host's).
	TimeZone string         `toml:"time_zone"`
	Location *time.Location `toml:"-"`
}

// Protocols, TLS modes and after-actions accepted in the file.
const (
	ProtocolIMAP = "imap"
	ProtocolPOP3 = "pop3"

	TLSImplicit = "implicit"
	TLSStartTLS = "starttls"
	TLSNone     = "none"

	AuthPassword = "password"

	// Servers that answer SEARCH from an index (Exchange, Gmail) leave out
	// messages whose header holds the string, so by default only the
	// flags, which every server evaluates exactly, are searched for, and
	// mailtask checks the header, date and size rules itself.
	ServerSearchFlags = "flags"
	ServerSearchAll   = "all"

	AfterNone   = "none"
	AfterSeen   = "seen"
	AfterFlag   = "flag"
	AfterMove   = "move"
	AfterDelete = "delete"
)

// Defaults applied where the file is silent.
const (
	DefaultTimeout   = 2 * time.Minute
	DefaultBatchSize = 50
	// A message of a gigabyte is far beyond what any mail server passes
	// on, and still fits on the disk of the state_dir.
	DefaultMaxMessageSize Size = 1 << 30
	// Two connections keep the server sending while mailtask writes; on
	// the benchmark corpus over POP3S they take 1.00 s where one takes
	// 1.20 s.
	DefaultConnections = 2
	DefaultMailbox     = "INBOX"
	// An hour covers the seconds to minutes an Exchange Online search
	// index usually lags behind delivery with room for its slow days;
	// settling costs a run one UID SEARCH, nothing per message, and
	// delays only the warning of a quarantine notice the rules leave out.
	DefaultSearchSettle = time.Hour
)

// Task returns the task named name, or nil.
func (c *Config) Task(name string) *Task {
	for _, t := range c.Tasks {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// AccountNames lists the accounts in the order the file defines them;
// accounts the file did not define (a Config built in code) follow,
// sorted.
func (c *Config) AccountNames() []string {
	names := make([]string, 0, len(c.Accounts))
	// A set, not a search of names: with an account per included file
	// there are thousands.
	listed := make(map[string]bool, len(c.Accounts))
	for _, n := range c.accountOrder {
		if _, ok := c.Accounts[n]; ok && !listed[n] {
			listed[n] = true
			names = append(names, n)
		}
	}
	var rest []string
	for n := range c.Accounts {
		if !listed[n] {
			rest = append(rest, n)
		}
	}
	slices.Sort(rest)
	return append(names, rest...)
}

// TaskNames lists the tasks in file order, for messages that suggest one.
func (c *Config) TaskNames() []string {
	names := make([]string, len(c.Tasks))
	for i, t := range c.Tasks {
		names[i] = t.Name
	}
	return names
}
