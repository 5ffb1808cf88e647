package config

import (
	"fmt"
	"maps"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"mailtask/internal/pathtmpl"
)

func (t *Task) applyRuleDefaults() {
	if t.Match.SkipAutomatic == nil {
		t.Match.SkipAutomatic = slices.Clone(AutomaticKinds)
	}
	if t.Attachments.Nested == "" {
		t.Attachments.Nested = NestedEML
	}
	if t.Attachments.TNEF == "" {
		t.Attachments.TNEF = TNEFExtract
	}
	if t.Output.FileName == "" {
		t.Output.FileName = DefaultFileName
	}
	if t.Output.MessageName == "" {
		t.Output.MessageName = DefaultMessageName
	}
	if t.Output.OnCollision == "" {
		t.Output.OnCollision = CollisionSuffix
	}
	if t.AfterFailure == "" {
		t.AfterFailure = AfterNone
	}
	if t.AfterFailure == AfterKeyword && t.FailureKeyword == "" {
		t.FailureKeyword = DefaultFailureKeyword
	}
	if t.HookTimeout == 0 {
		t.HookTimeout = DefaultHookTimeout
	}
	if t.HookFailure == "" {
		t.HookFailure = HookRetry
	}
}

// TakesAttachments reports whether [task.output] attachments is on (the
// default).
func (o *Output) TakesAttachments() bool { return o.Attachments == nil || *o.Attachments }

// KeepsInline reports whether [task.attachments] inline is on (the default).
func (a *Attachments) KeepsInline() bool { return a.Inline == nil || *a.Inline }

// validateTaskRules checks [task.match], [task.attachments], [task.output],
// the actions and the hooks of t; acct is nil when the task's account is
// undefined (already reported).
func (c *Config) validateTaskRules(at string, t *Task, acct *Account, fail func(section, key, format string, args ...any)) {
	base := c.dirOf(t.File)
	pop3 := acct != nil && acct.Protocol == ProtocolPOP3

	t.Location = time.Local
	if t.TimeZone != "" {
		loc, err := time.LoadLocation(t.TimeZone)
		if err != nil {
			fail(at, "time_zone", "%q is not a time zone (write e.g. \"Europe/Berlin\" or \"UTC\")", t.TimeZone)
		} else {
			t.Location = loc
		}
	}

	m := &t.Match
	for _, f := range []struct {
		key  string
		list Patterns
	}{{"from_regex", m.FromRegex}, {"to_regex", m.ToRegex}, {"cc_regex", m.CcRegex}, {"subject_regex", m.SubjectRegex}} {
		for _, p := range f.list {
			if _, err := regexp.Compile(p); err != nil {
				fail(at, "match."+f.key, "%q: %v", p, err)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.HeaderRegex)) {
		if _, err := regexp.Compile(m.HeaderRegex[name]); err != nil {
			fail(at, "match.header_regex."+name, "%q: %v", m.HeaderRegex[name], err)
		}
	}
	for _, key := range []string{"header", "header_regex"} {
		fields := m.Header
		if key == "header_regex" {
			fields = m.HeaderRegex
		}
		for _, name := range slices.Sorted(maps.Keys(fields)) {
			if !validHeaderName(name) {
				fail(at, "match."+key, "%q is not a header field name", name)
			}
		}
	}
	for _, s := range m.BodyContains {
		if strings.TrimSpace(s) == "" {
			fail(at, "match.body_contains", "an empty text matches every message; remove it")
		}
	}
	if m.MaxAge != 0 {
		checkDuration(fail, at, "match.max_age", m.MaxAge.Std(), time.Minute, MaxAge, "")
	}
	if m.MaxSize > 0 && m.MinSize > m.MaxSize {
		fail(at, "match.min_size", "%v is larger than max_size %v", m.MinSize, m.MaxSize)
	}
	for _, kind := range m.SkipAutomatic {
		if !slices.Contains(AutomaticKinds, kind) {
			fail(at, "match.skip_automatic", "%q is not one of %s (or [] to take automatic mail too)", kind, strings.Join(AutomaticKinds, ", "))
		}
	}
	if pop3 && m.UnseenOnly {
		fail(at, "match.unseen_only", "POP3 account %q has no \\Seen flag; remove unseen_only or use IMAP", t.Account)
	}

	a := &t.Attachments
	if a.MaxSize > 0 && a.MinSize > a.MaxSize {
		fail(at, "attachments.min_size", "%v is larger than max_size %v", a.MinSize, a.MaxSize)
	}
	for _, ct := range a.ContentTypes {
		if !strings.Contains(ct, "/") {
			fail(at, "attachments.content_types", "%q is not a media type (write e.g. \"application/pdf\" or \"image/*\")", ct)
		}
	}
	switch a.Nested {
	case NestedEML, NestedExtract:
	default:
		fail(at, "attachments.nested", "%q is not one of eml, extract", a.Nested)
	}
	switch a.TNEF {
	case TNEFExtract, TNEFKeep:
	default:
		fail(at, "attachments.tnef", "%q is not one of extract, keep", a.TNEF)
	}

	o := &t.Output
	if !o.TakesAttachments() && !o.EML && o.Body == BodyNone && !o.Metadata {
		fail(at, "output.attachments", "false, and eml, body and metadata are off too: nothing would be written")
	}
	if t.Destination != "" {
		if _, rel := pathtmpl.SplitRoot(t.Destination); rel != "" {
			if _, err := pathtmpl.Parse(rel, pathtmpl.MessageVars); err != nil {
				fail(at, "destination", "%q: %v", t.Destination, err)
			}
		}
	}
	for _, key := range []string{"file_name", "message_name"} {
		tmpl, known := o.MessageName, pathtmpl.MessageVars
		if key == "file_name" {
			tmpl, known = o.FileName, append(known[:len(known):len(known)], pathtmpl.FileVars...)
		}
		if strings.ContainsAny(tmpl, `/\`) {
			fail(at, "output."+key, "%q is a file name, not a path; put folders in destination", tmpl)
		} else if _, err := pathtmpl.Parse(tmpl, known); err != nil {
			fail(at, "output."+key, "%q: %v", tmpl, err)
		}
	}
	switch o.OnCollision {
	case CollisionSuffix, CollisionOverwrite, CollisionSkip, CollisionFail:
	default:
		fail(at, "output.on_collision", "%q is not one of suffix, overwrite, skip, fail", o.OnCollision)
	}
	switch o.Dedupe {
	case "", DedupeSHA256:
	default:
		fail(at, "output.dedupe", "%q is not supported (use \"sha256\", or leave it out)", o.Dedupe)
	}

	c.validateActions(at, t, pop3, fail)
	validateCommand(at, "run_after_file", base, t.RunAfterFile, fail)
	validateCommand(at, "run_after_message", base, t.RunAfterMessage, fail)
	checkDuration(fail, at, "hook_timeout", t.HookTimeout.Std(), MinTimeout, MaxHookTimeout, "")
	switch t.HookFailure {
	case HookRetry, HookFail, HookIgnore:
	default:
		fail(at, "hook_failure", "%q is not one of retry, fail, ignore", t.HookFailure)
	}
}

func (c *Config) validateActions(at string, t *Task, pop3 bool, fail func(section, key, format string, args ...any)) {
	switch {
	case t.After == AfterKeyword && t.Keyword == "":
		fail(at, "keyword", "missing: after = \"keyword\" needs the keyword to set, e.g. keyword = \"$Processed\"")
	case t.After != AfterKeyword && t.Keyword != "":
		fail(at, "keyword", "is only used with after = \"keyword\" (after is %q)", t.After)
	}
	for _, key := range []string{"keyword", "failure_keyword"} {
		kw := t.Keyword
		if key == "failure_keyword" {
			kw = t.FailureKeyword
		}
		if kw != "" && !validKeyword(kw) {
			fail(at, key, "%q is not an IMAP keyword (printable ASCII without spaces or (){%%*\"\\], not starting with '\\', e.g. \"$Processed\")", kw)
		}
	}
	checkAction(at, "after_failure", "failure_move_to", t.AfterFailure, t.FailureMoveTo, t.Mailbox, fail)
	if t.AfterFailure != AfterKeyword && t.FailureKeyword != "" {
		fail(at, "failure_keyword", "is only used with after_failure = \"keyword\" (after_failure is %q)", t.AfterFailure)
	}
	if pop3 && t.AfterFailure != AfterNone && t.AfterFailure != AfterDelete {
		fail(at, "after_failure", "%q needs IMAP; POP3 account %q can only leave (\"none\") or \"delete\" messages", t.AfterFailure, t.Account)
	}
}

// checkAction checks an after-action key (after, after_failure) and the
// folder key that goes with "move".
func checkAction(at, key, moveKey, action, moveTo, mailbox string, fail func(section, key, format string, args ...any)) {
	switch action {
	case AfterNone, AfterSeen, AfterFlag, AfterKeyword, AfterMove, AfterDelete:
	default:
		fail(at, key, "%q is not one of none, seen, flag, keyword, move, delete", action)
	}
	switch {
	case action == AfterMove && moveTo == "":
		fail(at, moveKey, "missing: %s = \"move\" needs the folder to move messages to", key)
	case action != AfterMove && moveTo != "":
		fail(at, moveKey, "is only used with %s = \"move\" (%s is %q)", key, key, action)
	case action == AfterMove && moveTo == mailbox:
		fail(at, moveKey, "is the task's own mailbox %q", mailbox)
	}
}

// validateCommand checks a hook's argv; a program given by a relative path
// is resolved against the config file's directory.
func validateCommand(at, key, base string, argv []string, fail func(section, key, format string, args ...any)) {
	if argv == nil {
		return
	}
	if len(argv) == 0 || argv[0] == "" {
		fail(at, key, "needs the program to run first, e.g. [\"/usr/local/bin/ocr\", \"--fast\"]")
		return
	}
	if strings.ContainsRune(argv[0], filepath.Separator) {
		argv[0] = resolve(base, argv[0])
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		fail(at, key, "%v", err)
	}
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r <= ' ' || r > '~' || r == ':' {
			return false
		}
	}
	return textproto.CanonicalMIMEHeaderKey(name) != ""
}

// validKeyword accepts what RFC 3501 allows in a flag keyword (an atom) and
// refuses system flags, which have their own after-actions.
func validKeyword(kw string) bool {
	if kw == "" || strings.HasPrefix(kw, `\`) {
		return false
	}
	for _, r := range kw {
		if r <= ' ' || r > '~' || strings.ContainsRune(`(){%*"\]`, r) {
			return false
		}
	}
	return true
}

// validateNotify checks [notify].
func (c *Config) validateNotify(fail func(section, key, format string, args ...any)) {
	n := c.Notify
	if n == nil {
		return
	}
	const at = "[notify]"
	acct, ok := c.Accounts[n.Account]
	switch {
	case n.Account == "":
		fail(at, "account", "missing: the account whose username and password sign in to the SMTP server (one of: %s)", c.accountNames())
	case !ok:
		fail(at, "account", "no account %q is defined (defined: %s)", n.Account, c.accountNames())
	}
	if n.Port < 1 || n.Port > 65535 {
		fail(at, "port", "%d is not a TCP port", n.Port)
	}
	checkDuration(fail, at, "timeout", n.Timeout.Std(), MinTimeout, MaxNotifyTimeout, "")
	switch n.TLS {
	case TLSImplicit, TLSStartTLS:
	case TLSNone:
		if !isLoopback(n.Host) {
			fail(at, "tls", "\"none\" sends the password in clear text and is allowed only for loopback hosts, not %q; use \"starttls\" or \"implicit\"", n.Host)
		}
	default:
		fail(at, "tls", "%q is not one of starttls, implicit, none", n.TLS)
	}
	if n.CAFile != "" {
		n.CAFile = resolve(filepath.Dir(c.File), n.CAFile)
		if _, err := os.Stat(n.CAFile); err != nil {
			fail(at, "ca_file", "%v", err)
		}
	}
	if ok {
		if n.From == "" {
			n.From = acct.Username
		}
		// Microsoft 365 rejects a From other than the signed-in mailbox
		// (5.7.60 SendAsDenied); finding out at the first failure would
		// mean no failure mail ever arrives.
		if !strings.EqualFold(n.From, acct.Username) {
			fail(at, "from", "%q differs from %q, the username of account %q that signs in; Microsoft 365 refuses to send as another address, so set from to the account's username (or leave it out)", n.From, acct.Username, n.Account)
		}
	}
	// A delegated Microsoft token is good for SMTP only with the SMTP.Send
	// scope; app-only tokens (.default) carry SMTP.SendAsApp when granted.
	if ok && acct.Auth == AuthOAuth2 && acct.OAuth2 != nil && acct.OAuth2.Provider == ProviderMicrosoft && acct.OAuth2.Delegated() &&
		!slices.Contains(acct.OAuth2.Scopes, ScopeMicrosoftSMTP) {
		fail(at, "account", "account %q signs in with OAuth2, whose token can send mail only with the scope %q: add it to [accounts.%s.oauth2] scopes (beside the mailbox scope) and sign in again with `mailtask auth login %s`", n.Account, ScopeMicrosoftSMTP, n.Account, n.Account)
	}
	if len(n.To) == 0 {
		fail(at, "to", "missing: who receives the notifications, e.g. to = [\"ops@contoso.com\"]")
	}
	for _, to := range n.To {
		if !strings.Contains(to, "@") || strings.ContainsAny(to, " \r\n<>") {
			fail(at, "to", "%q is not a mail address", to)
		}
	}
	if n.Digest != "" {
		if _, err := ParseSchedule(n.Digest); err != nil {
			fail(at, "digest", "%v", err)
		}
	}
	if n.OnFailure != nil && !*n.OnFailure && n.Digest == "" {
		fail(at, "on_failure", "false and no digest schedule: [notify] would never send anything")
	}
}

func (n *Notify) applyDefaults() {
	if n == nil {
		return
	}
	if n.Host == "" {
		n.Host = DefaultSMTPHost
	}
	if n.TLS == "" {
		n.TLS = TLSStartTLS
	}
	if n.Port == 0 {
		switch n.TLS {
		case TLSImplicit:
			n.Port = 465
		default:
			n.Port = DefaultSMTPPort
		}
	}
	if n.Timeout == 0 {
		n.Timeout = Duration(time.Minute)
	}
}

// String names the SMTP endpoint in messages.
func (n *Notify) String() string { return fmt.Sprintf("%s:%d", n.Host, n.Port) }
