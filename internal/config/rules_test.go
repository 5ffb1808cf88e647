package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

const rulesBase = `
[accounts.a]
host = "mail.example.com"
username = "invoices@contoso.com"
password = "p"
[accounts.p]
protocol = "pop3"
host = "pop.example.com"
username = "u"
password = "p"
[[task]]
name = "t"
account = "a"
destination = "/srv/drop/{yyyy}/{mm}"
`

func TestRulesParse(t *testing.T) {
	cfg, err := Parse("/cfg/m.toml", []byte(rulesBase+`
after = "keyword"
keyword = "$Processed"
after_failure = "move"
failure_move_to = "Failed"
run_after_file = ["/bin/true", "--file"]
hook_timeout = "30s"
hook_failure = "fail"
time_zone = "Europe/Berlin"
[task.match]
from = "*@acme.example"
subject = ["Invoice *", "Rechnung *"]
subject_regex = "^(re|aw): "
body_contains = "please pay"
since = 2025-01-31
max_age = "30d"
min_size = "10KB"
max_size = "25MiB"
has_attachments = true
unseen_only = true
skip_automatic = ["delivery-report"]
[task.match.header]
X-Mailer = "Canon*"
[task.attachments]
include = ["*.pdf", "*.xml"]
exclude = "image0*"
content_types = ["application/pdf", "application/xml"]
max_size = "20MB"
inline = false
nested = "extract"
tnef = "keep"
[task.output]
eml = true
body = "text"
metadata = true
file_name = "{yyyy}{mm}{dd}-{name}.{ext}"
on_collision = "skip"
dedupe = "sha256"
[notify]
account = "a"
to = ["ops@contoso.com"]
digest = "0 8 * * *"
`))
	if err != nil {
		t.Fatal(err)
	}
	task := cfg.Tasks[0]
	m := task.Match
	if len(m.Subject) != 2 || m.From[0] != "*@acme.example" || len(m.SubjectRegex) != 1 || m.Header["X-Mailer"] != "Canon*" {
		t.Errorf("match patterns = %+v", m)
	}
	if m.MinSize != 10_000 || m.MaxSize != 25<<20 || m.MaxAge.Std() != 30*24*time.Hour || !*m.HasAttachments || !m.UnseenOnly ||
		!slices.Equal(m.SkipAutomatic, []string{AutomaticDeliveryReport}) {
		t.Errorf("match values = %+v", m)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if got := m.Since.In(task.Location); !got.Equal(time.Date(2025, 1, 31, 0, 0, 0, 0, berlin)) || task.Location.String() != "Europe/Berlin" {
		t.Errorf("since = %v in %v", got, task.Location)
	}
	a := task.Attachments
	if a.KeepsInline() || a.Nested != NestedExtract || a.TNEF != TNEFKeep || len(a.Exclude) != 1 || a.MaxSize != 20e6 {
		t.Errorf("attachments = %+v", a)
	}
	o := task.Output
	if !o.TakesAttachments() || !o.EML || o.Body != BodyText || !o.Metadata || o.OnCollision != CollisionSkip || o.Dedupe != DedupeSHA256 {
		t.Errorf("output = %+v", o)
	}
	if o.MessageName != DefaultMessageName {
		t.Errorf("message_name default = %q", o.MessageName)
	}
	if task.Keyword != "$Processed" || task.AfterFailure != AfterMove || task.FailureMoveTo != "Failed" {
		t.Errorf("actions = %+v", task.Actions)
	}
	if task.HookTimeout.Std() != 30*time.Second || task.HookFailure != HookFail || task.RunAfterFile[0] != "/bin/true" {
		t.Errorf("hooks = %+v", task.Hooks)
	}
	n := cfg.Notify
	if n.Host != DefaultSMTPHost || n.Port != 587 || n.TLS != TLSStartTLS || n.From != "invoices@contoso.com" || !n.SendOnFailure() {
		t.Errorf("notify defaults = %+v", n)
	}
}

func TestRulesDefaults(t *testing.T) {
	cfg, err := Parse("/cfg/m.toml", []byte(rulesBase))
	if err != nil {
		t.Fatal(err)
	}
	task := cfg.Tasks[0]
	if task.Output.FileName != DefaultFileName || task.Output.OnCollision != CollisionSuffix || task.AfterFailure != AfterNone ||
		task.HookFailure != HookRetry || task.HookTimeout != DefaultHookTimeout || task.Attachments.Nested != NestedEML || task.Attachments.TNEF != TNEFExtract ||
		!task.Attachments.KeepsInline() || !task.Output.TakesAttachments() || task.Location != time.Local || cfg.Notify != nil {
		t.Errorf("defaults: %+v", task)
	}
	if !slices.Equal(task.Match.SkipAutomatic, AutomaticKinds) {
		t.Errorf("skip_automatic defaults to %q, want every kind %q", task.Match.SkipAutomatic, AutomaticKinds)
	}
	// An empty list is the user's word that automatic mail is taken too,
	// not a key left out.
	cfg, err = Parse("/cfg/m.toml", []byte(rulesBase+"[task.match]\nskip_automatic = []\n"))
	if err != nil {
		t.Fatal(err)
	}
	if skip := cfg.Tasks[0].Match.SkipAutomatic; len(skip) != 0 {
		t.Errorf("skip_automatic = [] gave %q", skip)
	}
}

func TestRulesErrors(t *testing.T) {
	for _, tc := range []struct{ name, toml, want string }{
		{"bad regex", "[task.match]\nsubject_regex = \"(\"", `task "t": match.subject_regex: "(": error parsing regexp`},
		{"bad header regex", "[task.match.header_regex]\nX-A = \"[\"", `task "t": match.header_regex.X-A: "["`},
		{"bad header name", "[task.match.header]\n\"X A\" = \"x\"", `task "t": match.header: "X A" is not a header field name`},
		{"unknown match key", "[task.match]\nfrom_glob = \"x\"", `task "t": match.from_glob: unknown key`},
		{"empty body text", "[task.match]\nbody_contains = [\" \"]", `match.body_contains: an empty text matches every message`},
		{"sizes crossed", "[task.match]\nmin_size = \"2MB\"\nmax_size = \"1MB\"", `match.min_size: 2000000 bytes is larger than max_size 1000000 bytes`},
		{"bad size", "[task.match]\nmin_size = \"lots\"", `"lots" is not a size`},
		{"bad age", "[task.match]\nmax_age = \"a month\"", `"a month" is not a positive age`},
		{"bad date", "[task.match]\nsince = \"yesterday\"", `"yesterday" is not a date`},
		{"unknown automatic kind", "[task.match]\nskip_automatic = [\"bounce\"]", `task "t": match.skip_automatic: "bounce" is not one of delivery-report, auto-reply, read-receipt`},
		{"unseen on pop3", "[task.match]\nunseen_only = true", `match.unseen_only: POP3 account "p" has no \Seen flag`},
		{"bad content type", "[task.attachments]\ncontent_types = \"pdf\"", `attachments.content_types: "pdf" is not a media type`},
		{"bad nested", "[task.attachments]\nnested = \"flatten\"", `attachments.nested: "flatten" is not one of eml, extract`},
		{"bad tnef", "[task.attachments]\ntnef = \"open\"", `attachments.tnef: "open" is not one of extract, keep`},
		{"nothing to write", "[task.output]\nattachments = false", `output.attachments: false, and eml, body and metadata are off too`},
		{"bad body", "[task.output]\nbody = \"pdf\"", `"pdf" is not one of true, false`},
		{"unknown variable", "[task.output]\nfile_name = \"{nam}.{ext}\"", `output.file_name: "{nam}.{ext}": unknown variable {nam}`},
		{"file name with folder", "[task.output]\nfile_name = \"{yyyy}/{name}\"", `output.file_name: "{yyyy}/{name}" is a file name, not a path`},
		{"file var in message name", "[task.output]\nmessage_name = \"{name}\"", `output.message_name: "{name}": unknown variable {name}`},
		{"bad destination template", "", `task "t": destination: "/srv/{year}": unknown variable {year}`},
		{"bad collision", "[task.output]\non_collision = \"rename\"", `output.on_collision: "rename" is not one of suffix, overwrite, skip, fail`},
		{"bad dedupe", "[task.output]\ndedupe = \"md5\"", `output.dedupe: "md5" is not supported`},
		{"keyword missing", "after = \"keyword\"", `task "t": keyword: missing: after = "keyword" needs the keyword`},
		{"keyword unused", "keyword = \"$X\"", `task "t": keyword: is only used with after = "keyword"`},
		{"system flag as keyword", "after = \"keyword\"\nkeyword = \"\\\\Seen\"", `keyword: "\\Seen" is not an IMAP keyword`},
		{"keyword with space", "after = \"keyword\"\nkeyword = \"a b\"", `keyword: "a b" is not an IMAP keyword`},
		{"bad after_failure", "after_failure = \"quarantine\"", `after_failure: "quarantine" is not one of none, seen, flag, keyword, move, delete`},
		{"failure move without folder", "after_failure = \"move\"", `failure_move_to: missing`},
		{"failure folder unused", "failure_move_to = \"F\"", `failure_move_to: is only used with after_failure = "move"`},
		{"failure keyword unused", "failure_keyword = \"$F\"", `failure_keyword: is only used with after_failure = "keyword"`},
		{"failure action on pop3", "after_failure = \"seen\"", `after_failure: "seen" needs IMAP`},
		{"hook not found", "run_after_file = [\"./nope.sh\"]", `task "t": run_after_file: exec: "/cfg/nope.sh"`},
		{"hook empty", "run_after_message = []", `run_after_message: needs the program to run first`},
		{"bad hook policy", "hook_failure = \"panic\"", `hook_failure: "panic" is not one of retry, fail, ignore`},
		{"bad time zone", "time_zone = \"Mars/Olympus\"", `time_zone: "Mars/Olympus" is not a time zone`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := rulesBase
			switch tc.name {
			case "unseen on pop3", "failure action on pop3":
				base = strings.Replace(base, `account = "a"`, `account = "p"`, 1)
			case "bad destination template":
				base = strings.Replace(base, "/srv/drop/{yyyy}/{mm}", "/srv/{year}", 1)
			}
			_, err := Parse("/cfg/m.toml", []byte(base+tc.toml+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestNotifyErrors(t *testing.T) {
	for _, tc := range []struct{ name, toml, want string }{
		{"no account", "[notify]\nto = [\"a@b.c\"]", `[notify]: account: missing`},
		{"unknown account", "[notify]\naccount = \"x\"\nto = [\"a@b.c\"]", `[notify]: account: no account "x" is defined`},
		{"from not the mailbox", "[notify]\naccount = \"a\"\nfrom = \"alerts@contoso.com\"\nto = [\"a@b.c\"]", `[notify]: from: "alerts@contoso.com" differs from "invoices@contoso.com"`},
		{"no recipients", "[notify]\naccount = \"a\"", `[notify]: to: missing`},
		{"bad recipient", "[notify]\naccount = \"a\"\nto = [\"ops\"]", `[notify]: to: "ops" is not a mail address`},
		{"clear text", "[notify]\naccount = \"a\"\nto = [\"a@b.c\"]\ntls = \"none\"", `[notify]: tls: "none" sends the password in clear text`},
		{"bad digest", "[notify]\naccount = \"a\"\nto = [\"a@b.c\"]\ndigest = \"daily\"", `[notify]: digest: "daily" is not a valid schedule`},
		{"sends nothing", "[notify]\naccount = \"a\"\nto = [\"a@b.c\"]\non_failure = false", `[notify]: on_failure: false and no digest schedule`},
		{"unknown key", "[notify]\naccount = \"a\"\nto = [\"a@b.c\"]\nsubject = \"x\"", `notify.subject: unknown key`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("/cfg/m.toml", []byte(rulesBase+tc.toml+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
	// The From check ignores case, as addresses do.
	if _, err := Parse("/cfg/m.toml", []byte(rulesBase+"[notify]\naccount = \"a\"\nfrom = \"Invoices@Contoso.com\"\nto = [\"a@b.c\"]\n")); err != nil {
		t.Errorf("from differing only in case: %v", err)
	}
}

func TestSizeUnits(t *testing.T) {
	for in, want := range map[string]Size{"500": 500, "1.5KB": 1500, "2kib": 2048, "10 MB": 10e6, "1GiB": 1 << 30, "3g": 3e9, "7b": 7} {
		var s Size
		if err := s.UnmarshalTOML(in); err != nil || s != want {
			t.Errorf("Size(%q) = %d, %v; want %d", in, s, err, want)
		}
	}
	for _, bad := range []any{"-1", "10 TB", "", int64(-5), 1.5} {
		var s Size
		if err := s.UnmarshalTOML(bad); err == nil {
			t.Errorf("Size(%v) accepted as %d", bad, s)
		}
	}
}

func TestNotifyOAuth2NeedsSMTPScope(t *testing.T) {
	oauth := `
[accounts.o]
host = "outlook.office365.com"
username = "invoices@contoso.com"
auth = "oauth2"
[accounts.o.oauth2]
client_id = "00000000-0000-0000-0000-000000000001"
tenant = "contoso.com"
%s
[notify]
account = "o"
to = ["ops@contoso.com"]
`
	_, err := Parse("/cfg/m.toml", []byte(rulesBase+fmt.Sprintf(oauth, "")))
	if err == nil || !strings.Contains(err.Error(), `[notify]: account: account "o" signs in with OAuth2, whose token can send mail only with the scope "https://outlook.office.com/SMTP.Send"`) {
		t.Errorf("error %v", err)
	}
	scopes := `scopes = ["https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send", "offline_access"]`
	if _, err := Parse("/cfg/m.toml", []byte(rulesBase+fmt.Sprintf(oauth, scopes))); err != nil {
		t.Errorf("with the SMTP scope: %v", err)
	}
}
