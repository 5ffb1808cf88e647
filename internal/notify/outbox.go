package notify

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"mailtask/internal/clock"
	"mailtask/internal/config"
)

// Window is how often mails about tasks go out: runs record the mails
// due, and once a window the mails recorded go, alone while they fit in
// what is left of the window's Budget, else in one mail. A lone failure
// is mailed within a window; a thousand tasks failing at once (Microsoft
// 365 down, the node's DNS or proxy, a tenant's expired secret) make one
// mail, and an SMTP server that refuses (throttled, down) is tried once a
// window, not by every run of every task.
const Window = time.Minute

// Budget is how many mails a window may send, for the cluster: 3 a
// minute, a tenth of the 30 messages a minute Microsoft 365 lets a
// mailbox send, leaving the rest to whatever else sends through it. Mails
// due that do not fit in what is left go as one mail grouping the tasks
// by cause; none left, they wait for the next window. A send that fails
// spends the window's budget: the server is tried once a window.
const Budget = 3

// Kinds of mail about a task.
const (
	Failed       = "failed"        // a new failure
	StillFailing = "still failing" // a reminder
	Recovered    = "recovered"
)

// Mail is a mail due about a task, recorded by the run that found it due
// (RunEnded) with the task's alert, until a window's SendDue sends it.
type Mail struct {
	Task     string
	Kind     string    // Failed, StillFailing or Recovered
	At       time.Time // when the run ended
	Class    string    // the failure's kind (Alert.Class)
	Error    string    // the run's error; empty for a recovery
	Hint     string
	Since    time.Time // the failure's first run
	Failures int       // failed runs since
	Mailed   int       // mails about the failure, this one counted
}

// SendDue sends the mails runs recorded as due, in the window of now, as
// far as its budget goes (Budget): alone while they fit in what is left,
// else as one mail; with nothing left they wait for the next window.
// Mails that cannot be sent stay recorded for the next window, and the
// failure is recorded for `mailtask status`. left says mails wait for a
// later window; the error is about sending or about store (nil: the files
// under state_dir).
func SendDue(ctx context.Context, cfg *config.Config, store Store, now time.Time, log *slog.Logger) (left bool, err error) {
	if cfg.Notify == nil {
		return false, nil
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// A sender holds the outbox (the file store's lock, the database's
	// row of the window) while it sends: at most the window's Budget of
	// mails, each bounded by the mailer's timeout, a minute more the
	// store's round trips, whoever holds it in turn, as the window's
	// senders share its budget. One coming meanwhile waits for it, rather
	// than for the next window, at most as long (longer, the holder is
	// stuck), then has as long for its own mails.
	hold := Budget*cfg.Notify.Timeout.Std() + time.Minute
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*hold)
	defer cancel()
	store = storeOf(cfg, store, log)
	claimed, err := store.SendDue(ctx, now.Truncate(Window), hold, func(due []Mail, budget int) (int, int, error) {
		return sendMails(ctx, cfg, store, log, due, budget, now)
	})
	return !claimed, err
}

// sendMails sends due, one by one when they fit in budget mails, else as
// one mail, and says how many of due went out and how many mails it
// sent.
func sendMails(ctx context.Context, cfg *config.Config, store Store, log *slog.Logger, due []Mail, budget int, now time.Time) (mails, sent int, err error) {
	m, err := New(cfg, store, log)
	if err != nil {
		return 0, 0, err
	}
	if len(due) > budget {
		subject, body := grouped(due, now)
		if err := m.Send(ctx, subject, body); err != nil {
			return 0, 0, err
		}
		log.Info("mailed about tasks, grouped", "tasks", len(due), "to", cfg.Notify.To)
		return len(due), 1, nil
	}
	for i, d := range due {
		var subject, body string
		switch d.Kind {
		case Recovered:
			subject, body = recovery(d)
		case StillFailing:
			subject, body = reminder(d)
		default:
			subject, body = failure(d)
		}
		if err := m.Send(ctx, subject, body); err != nil {
			return i, i, err
		}
		log.Info("mailed about a task", "task", d.Task, "kind", d.Kind, "to", cfg.Notify.To)
	}
	return len(due), len(due), nil
}

// listedPerCause is how many tasks a grouped mail names for each cause;
// beyond it, it counts them: `mailtask status` lists them all.
const listedPerCause = 20

// grouped is the subject and body of one mail about many tasks: for each
// kind of mail, the tasks by cause (the hint, or the error without its
// numbers), the most tasks first, each cause with one of its errors and
// the tasks' names (listedPerCause at most).
func grouped(due []Mail, now time.Time) (subject, body string) {
	type cause struct {
		kind, class string
		example     Mail
		tasks       []string
		named       map[string]bool // tasks, as a set: a task can be due twice in a long outage
	}
	var causes []*cause
	byKey := map[[2]string]*cause{}
	count := map[string]int{}
	for _, m := range due {
		key := [2]string{m.Kind, m.Class}
		c := byKey[key]
		if c == nil {
			c = &cause{kind: m.Kind, class: m.Class, example: m, named: map[string]bool{}}
			byKey[key] = c
			causes = append(causes, c)
		}
		if !c.named[m.Task] {
			c.named[m.Task] = true
			c.tasks = append(c.tasks, m.Task)
			count[m.Kind]++
		}
	}
	order := map[string]int{Failed: 0, StillFailing: 1, Recovered: 2}
	slices.SortStableFunc(causes, func(a, b *cause) int {
		return cmp.Or(cmp.Compare(order[a.kind], order[b.kind]), cmp.Compare(len(b.tasks), len(a.tasks)))
	})
	host, _ := os.Hostname()
	var b strings.Builder
	fmt.Fprintf(&b, "mailtask on %s, %s: %d mails about tasks came due since the last went out; here they are in one.\n",
		host, now.Format(time.RFC1123Z), len(due))
	var heads []string
	for _, kind := range []string{Failed, StillFailing, Recovered} {
		if count[kind] > 0 {
			heads = append(heads, tasks(count[kind])+" "+kind)
		}
	}
	for _, c := range causes {
		fmt.Fprintf(&b, "\n%s: %s\n", titles[c.kind], tasks(len(c.tasks)))
		if c.kind != Recovered {
			if c.example.Hint != "" {
				fmt.Fprintf(&b, "  hint: %s\n", c.example.Hint)
			}
			fmt.Fprintf(&b, "  error (of %s): %s\n", c.example.Task, c.example.Error)
		}
		listed := c.tasks[:min(len(c.tasks), listedPerCause)]
		fmt.Fprintf(&b, "  %s", strings.Join(listed, ", "))
		if more := len(c.tasks) - len(listed); more > 0 {
			fmt.Fprintf(&b, ", and %d more (mailtask status lists them)", more)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nEach task is counted as mailed: its reminders follow on their schedule (1, 2, 4, 8, 16 hours, then daily), and its recovery is mailed.\n")
	return "mailtask: " + strings.Join(heads, ", "), b.String()
}

var titles = map[string]string{Failed: "Failed", StillFailing: "Still failing", Recovered: "Recovered"}

// tasks counts n tasks in words: "1 task", "3 tasks".
func tasks(n int) string {
	if n == 1 {
		return "1 task"
	}
	return fmt.Sprintf("%d tasks", n)
}

// SendSoon sends the mails due now, once any other sender of the window
// is done (SendDue waits for it), or, when this window's budget is spent
// (Budget), at the start of the next, with whatever else is due by then:
// `mailtask run-task`'s sending of its run's mail, which nothing else may
// send (no daemon). ctx ending meanwhile leaves the mails due,
// for the daemon or the next run-task.
func SendSoon(ctx context.Context, cfg *config.Config, store Store, clk clock.Clock, log *slog.Logger) error {
	left, err := SendDue(ctx, cfg, store, clk.Now(), log)
	if !left || err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := clk.Now()
	next := now.Truncate(Window).Add(Window)
	log.Info("this window's mails are spent: waiting for the next to send what is due", "budget", Budget, "until", next)
	timer := clk.NewTimer(next.Sub(now))
	defer timer.Stop()
	select {
	case <-timer.C():
	case <-ctx.Done():
		return nil
	}
	_, err = SendDue(ctx, cfg, store, next, log)
	return err
}
