package popimap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-sasl"

	"mailtask/internal/auth"
	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/state"
)

// CheckStep is one step of Check, reported as it ends.
type CheckStep struct {
	Name   string // "token", "password", "connect", "TLS", "authenticate", "list folders", "select", "messages"
	Detail string // what was found
	Err    error  // nil when the step succeeded
}

// Check goes through what a run of task does before it fetches anything —
// credentials, connect, TLS, authenticate, list folders, select, count —
// reporting each step as it ends, and stops at the first that fails. It
// changes nothing: no state, no files, no flags (an OAuth2 token it renews
// is kept, as a run would). It reports whether every step succeeded. Of
// opts, it uses Config, Task, Log and Shared.
func Check(ctx context.Context, opts Options, report func(CheckStep)) bool {
	cfg, task, log := opts.Config, opts.Task, opts.logger()
	acct := cfg.Accounts[task.Account]
	aopts := auth.Options{StateDir: cfg.StateDir, Log: log}
	if opts.Shared != nil {
		aopts.Tokens = opts.Shared.Tokens()
	}
	var cred auth.Credential
	if acct.Auth == config.AuthOAuth2 {
		src, err := auth.NewSource(acct, aopts)
		if err != nil {
			report(CheckStep{Name: "token", Err: err})
			return false
		}
		tok, err := src.Token(ctx)
		if err != nil {
			report(CheckStep{Name: "token", Err: err})
			return false
		}
		who := tok.User
		if who == "" {
			who = "app-only"
		}
		report(CheckStep{Name: "token", Detail: fmt.Sprintf("%s, valid until %s", who, tok.Expiry.Local().Format(time.DateTime))})
		cred = auth.Bearer(acct.Username, src)
	} else {
		var err error
		if cred, err = auth.New(acct, aopts); err != nil {
			report(CheckStep{Name: "password", Err: err})
			return false
		}
	}

	addr := net.JoinHostPort(acct.Host, strconv.Itoa(acct.Port))
	rec := &mechRecorder{Credential: cred}
	sess, err := open(ctx, acct, rec, 0, nil, log)
	if err != nil {
		reportOpenFailure(acct, addr, err, report)
		return false
	}
	defer sess.Close()
	reportOpened(acct, addr, rec, report)

	if lister, ok := sess.(interface {
		Folders(context.Context) ([]string, error)
	}); ok {
		folders, err := lister.Folders(ctx)
		if err != nil {
			report(CheckStep{Name: "list folders", Err: err})
			return false
		}
		detail := fmt.Sprintf("%d folders", len(folders))
		if len(folders) == 1 {
			detail = "1 folder"
		}
		report(CheckStep{Name: "list folders", Detail: detail})
	} else {
		report(CheckStep{Name: "list folders", Detail: "POP3 has only the inbox"})
	}

	uidValidity, err := sess.Select(ctx, task.Mailbox, afterActions(task))
	if err != nil {
		report(CheckStep{Name: "select", Err: err})
		return false
	}
	detail := task.Mailbox
	if acct.Protocol == config.ProtocolIMAP {
		detail += fmt.Sprintf(" (UIDVALIDITY %d)", uidValidity)
	}
	report(CheckStep{Name: "select", Detail: detail})

	all, err := sess.New(ctx, mailbox.NoneTaken)
	if err != nil {
		report(CheckStep{Name: "messages", Err: err})
		return false
	}
	detail = fmt.Sprintf("%d in %s", len(all.New), task.Mailbox)
	load := func(context.Context, string) (*state.State, error) { return state.Load(cfg.StateDir, task.Name) }
	if opts.Shared != nil {
		load = opts.Shared.LoadState
	}
	if st, err := load(ctx, task.Name); err == nil {
		untaken := len(all.New)
		if st.UIDValidity == uidValidity {
			if fresh, err := sess.New(ctx, taken{st: st}); err == nil {
				untaken = len(fresh.New)
			}
		}
		detail += fmt.Sprintf(", %d not yet taken by task %q", untaken, task.Name)
	}
	report(CheckStep{Name: "messages", Detail: detail})
	if err := sess.Logout(ctx); err != nil {
		log.Debug("logout after check", "err", err)
	}
	return true
}

// openSteps are the steps a session's opening goes through, with the
// mailbox step each stands for.
var openSteps = []struct {
	name string
	step mailbox.Step
}{{"connect", mailbox.StepConnect}, {"TLS", mailbox.StepTLS}, {"authenticate", mailbox.StepLogin}}

func reportOpenFailure(acct *config.Account, addr string, err error, report func(CheckStep)) {
	failed := mailbox.StepConnect
	var me *mailbox.Error
	if errors.As(err, &me) {
		failed = me.Step
	}
	for _, s := range openSteps {
		if s.step == failed {
			report(CheckStep{Name: s.name, Err: err})
			return
		}
		report(CheckStep{Name: s.name, Detail: openedDetail(acct, addr, s.step, "")})
	}
}

func reportOpened(acct *config.Account, addr string, rec *mechRecorder, report func(CheckStep)) {
	for _, s := range openSteps {
		report(CheckStep{Name: s.name, Detail: openedDetail(acct, addr, s.step, rec.mech)})
	}
}

func openedDetail(acct *config.Account, addr string, step mailbox.Step, mech string) string {
	switch step {
	case mailbox.StepConnect:
		return addr
	case mailbox.StepTLS:
		if acct.TLS == config.TLSNone {
			return "none (tls = \"none\", loopback only)"
		}
		return acct.TLS
	}
	if mech == "" {
		mech = "LOGIN"
		if acct.Protocol == config.ProtocolPOP3 {
			mech = "USER/PASS"
		}
	}
	return fmt.Sprintf("as %s with %s", acct.Username, mech)
}

// mechRecorder notes which SASL mechanism the session used.
type mechRecorder struct {
	auth.Credential
	mech string
}

func (m *mechRecorder) SASL(ctx context.Context, offered []string) (sasl.Client, error) {
	c, err := m.Credential.SASL(ctx, offered)
	if err == nil {
		m.mech, _, _ = c.Start()
	}
	return c, err
}
