package config

// Notify ([notify]) sends mail about the tasks over SMTP: when a task
// fails, and a daily digest. It signs in with the credentials of one of
// the accounts, so the mailbox that is polled is also the one that sends.
type Notify struct {
	// Account names the [accounts.NAME] whose username and password are
	// used to sign in to the SMTP server.
	Account            string   `toml:"account"`
	Host               string   `toml:"host"`
	Port               int      `toml:"port"`
	TLS                string   `toml:"tls"`
	CAFile             string   `toml:"ca_file"`
	InsecureSkipVerify bool     `toml:"insecure_skip_verify"`
	From               string   `toml:"from"`
	To                 []string `toml:"to"`
	// OnFailure sends a mail when a task run fails. Default true.
	OnFailure *bool `toml:"on_failure"`
	// Digest is a schedule (cron spec) for a summary of every task's last
	// run; empty for none.
	Digest  string   `toml:"digest"`
	Timeout Duration `toml:"timeout"`
}

// Defaults of [notify]: Microsoft 365's submission endpoint, and the
// delegated scope its tokens need to send.
const (
	DefaultSMTPHost    = "smtp.office365.com"
	DefaultSMTPPort    = 587
	ScopeMicrosoftSMTP = "https://outlook.office.com/SMTP.Send"
)

// Login returns the account whose credentials sign in to the SMTP server.
func (n *Notify) Login(c *Config) *Account { return c.Accounts[n.Account] }

// SendOnFailure reports whether a failed run is to be mailed.
func (n *Notify) SendOnFailure() bool { return n != nil && (n.OnFailure == nil || *n.OnFailure) }
