package config

import (
	"fmt"
	"time"
)

// Patterns is a list of patterns, written as one string or an array of
// strings.
type Patterns []string

// UnmarshalTOML accepts "x" as well as ["x", "y"].
func (p *Patterns) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		*p = Patterns{v}
		return nil
	case []any:
		out := make(Patterns, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("%s is not a string", show(e))
			}
			out = append(out, s)
		}
		*p = out
		return nil
	}
	return fmt.Errorf("%s is not a string or an array of strings", show(v))
}

// Match ([task.match]) says which messages a task takes. Every key given
// must match (AND); within a key's list any one pattern is enough (OR), and
// a key's glob list and its _regex list are alternatives too. Messages that
// do not match are recorded as done and never fetched again.
type Match struct {
	From         Patterns `toml:"from"`
	FromRegex    Patterns `toml:"from_regex"`
	To           Patterns `toml:"to"`
	ToRegex      Patterns `toml:"to_regex"`
	Cc           Patterns `toml:"cc"`
	CcRegex      Patterns `toml:"cc_regex"`
	Subject      Patterns `toml:"subject"`
	SubjectRegex Patterns `toml:"subject_regex"`
	// BodyContains: case-insensitive text any body part must contain.
	BodyContains Patterns `toml:"body_contains"`
	// Header maps a header field name to a glob its value must match.
	Header      map[string]string `toml:"header"`
	HeaderRegex map[string]string `toml:"header_regex"`
	// Since and MaxAge bound the message's Date header.
	Since  Date `toml:"since"`
	MaxAge Age  `toml:"max_age"`
	// MinSize and MaxSize bound the whole message's size.
	MinSize Size `toml:"min_size"`
	MaxSize Size `toml:"max_size"`
	// HasAttachments, when set, requires (true) or forbids (false) at least
	// one attachment that [task.attachments] selects.
	HasAttachments *bool `toml:"has_attachments"`
	// UnseenOnly takes only messages without \Seen (IMAP).
	UnseenOnly bool `toml:"unseen_only"`
	// SkipAutomatic lists the kinds of automatic mail (Automatic*) not
	// taken: nil is all of them, empty none.
	SkipAutomatic []string `toml:"skip_automatic"`
}

// The kinds of automatic mail [task.match] skip_automatic names: mail no
// person wrote, sent back in answer to mail the mailbox's own side sent.
const (
	// AutomaticDeliveryReport: a bounce, a delay notice, a delivery
	// receipt (RFC 3464 and the mailers that predate it).
	AutomaticDeliveryReport = "delivery-report"
	// AutomaticReply: an out-of-office or vacation reply (RFC 3834).
	AutomaticReply = "auto-reply"
	// AutomaticReadReceipt: a read or not-read notification (RFC 8098).
	AutomaticReadReceipt = "read-receipt"
)

// AutomaticKinds are the kinds of automatic mail, skipped by default.
var AutomaticKinds = []string{AutomaticDeliveryReport, AutomaticReply, AutomaticReadReceipt}

// Attachments ([task.attachments]) says which parts of a message are
// saved as files.
type Attachments struct {
	// Include and Exclude are file-name globs; with Include set, a file
	// must match one of them, and it must match no Exclude.
	Include Patterns `toml:"include"`
	Exclude Patterns `toml:"exclude"`
	// ContentTypes are media-type globs ("application/pdf", "image/*")
	// checked against the type sniffed from the content, not only the
	// declared one.
	ContentTypes Patterns `toml:"content_types"`
	MinSize      Size     `toml:"min_size"`
	MaxSize      Size     `toml:"max_size"`
	// Inline keeps named parts with an inline disposition (pictures in the
	// text, signature logos). Default true.
	Inline *bool `toml:"inline"`
	// Nested is what happens to attached messages (message/rfc822):
	// "eml" saves them whole, "extract" saves their attachments instead.
	Nested string `toml:"nested"`
	// TNEF is what happens to Outlook's winmail.dat (application/ms-tnef):
	// "extract" saves the files inside it, "keep" saves it as it is.
	TNEF string `toml:"tnef"`
}

// Output ([task.output]) says what is written for a taken message, and how
// files are named.
type Output struct {
	Attachments *bool `toml:"attachments"` // the selected attachments; default true
	EML         bool  `toml:"eml"`         // the whole message as NAME.eml
	Body        Body  `toml:"body"`        // the text and/or HTML body as NAME.txt / NAME.html
	Metadata    bool  `toml:"metadata"`    // a JSON sidecar NAME.json per message
	// FileName names each attachment: a template of {name} (the name
	// without its extension), {ext} (the extension without its dot), {n}
	// (the file's number in the message) and the message's variables.
	// Default "{name}.{ext}"; a name without extension loses the dot.
	FileName string `toml:"file_name"`
	// MessageName is the NAME of the message's own files (eml, body,
	// metadata). Default "{yyyy}-{mm}-{dd}_{subject}_{message_id}".
	MessageName string `toml:"message_name"`
	// OnCollision is what happens when a file's name is taken by different
	// content: suffix, overwrite, skip, fail.
	OnCollision string `toml:"on_collision"`
	// Dedupe = "sha256" skips a file whose identical content is already
	// anywhere under the destination.
	Dedupe string `toml:"dedupe"`
}

// Body is which body parts [task.output] body writes.
type Body string

// Body values.
const (
	BodyNone Body = ""
	BodyText Body = "text"
	BodyHTML Body = "html"
	BodyBoth Body = "both"
)

// UnmarshalTOML accepts true (both), false, "text", "html" or "both".
func (b *Body) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case bool:
		*b = BodyNone
		if v {
			*b = BodyBoth
		}
		return nil
	case string:
		switch Body(v) {
		case BodyText, BodyHTML, BodyBoth:
			*b = Body(v)
			return nil
		}
	}
	return fmt.Errorf("%s is not one of true, false, \"text\", \"html\", \"both\"", show(v))
}

// Collision policies and dedupe methods.
const (
	CollisionSuffix    = "suffix"
	CollisionOverwrite = "overwrite"
	CollisionSkip      = "skip"
	CollisionFail      = "fail"

	DedupeSHA256 = "sha256"

	NestedEML     = "eml"
	NestedExtract = "extract"

	TNEFExtract = "extract"
	TNEFKeep    = "keep"
)

// Defaults of the rules and outputs.
const (
	DefaultFileName    = "{name}.{ext}"
	DefaultMessageName = "{yyyy}-{mm}-{dd}_{subject}_{message_id}"
)

// Actions are the server-side actions besides after and move_to.
type Actions struct {
	// Keyword is the IMAP keyword after = "keyword" sets, e.g. "$Processed".
	Keyword string `toml:"keyword"`
	// AfterFailure is the action for a message that could not be parsed
	// (it is kept in the state folder): none, seen, flag, keyword, move,
	// delete.
	AfterFailure   string `toml:"after_failure"`
	FailureKeyword string `toml:"failure_keyword"`
	FailureMoveTo  string `toml:"failure_move_to"`
}

// AfterKeyword sets Actions.Keyword on the server.
const AfterKeyword = "keyword"

// DefaultFailureKeyword is what after_failure = "keyword" sets by default.
const DefaultFailureKeyword = "$MailtaskFailed"

// Hooks run programs on what a task wrote.
type Hooks struct {
	// RunAfterFile runs once per file written, RunAfterMessage once per
	// message taken: argv lists, run without a shell, with MAILTASK_*
	// environment variables describing the file and the message.
	RunAfterFile    []string `toml:"run_after_file"`
	RunAfterMessage []string `toml:"run_after_message"`
	HookTimeout     Duration `toml:"hook_timeout"`
	// HookFailure: "retry" leaves the message for the next run and goes
	// on with the others, "fail" stops the run, "ignore" logs and goes on.
	HookFailure string `toml:"hook_failure"`
}

// Hook failure policies and the default timeout.
const (
	HookRetry  = "retry"
	HookFail   = "fail"
	HookIgnore = "ignore"

	DefaultHookTimeout = Duration(5 * time.Minute)
)
