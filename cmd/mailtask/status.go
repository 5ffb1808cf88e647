package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"mailtask/internal/cluster"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/notify"
	"mailtask/internal/outcome"
	"mailtask/internal/pgstore"
	"mailtask/internal/state"
)

// taskStatus is one task's line of `mailtask status`, and its JSON form.
type taskStatus struct {
	Task        string     `json:"task"`
	Account     string     `json:"account"`
	Schedule    string     `json:"schedule,omitempty"` // "" for run-task only
	NextRun     *time.Time `json:"next_run,omitempty"`
	Jitter      string     `json:"jitter,omitempty"`
	LastRun     *state.Run `json:"last_run,omitempty"`
	LastSuccess *state.Run `json:"last_success,omitempty"`
	// LastNotice is the last run that met Microsoft 365 quarantine
	// notices, while younger than state.NoticeKept, whatever runs came
	// after.
	LastNotice *state.LastNotice `json:"last_notice,omitempty"`
	// Quarantined counts messages kept aside as failed: unparseable, too
	// large, or never delivered.
	Quarantined int `json:"quarantined"`
	// Alert is what has been mailed about a failure going on ([notify]).
	Alert *notify.Alerted `json:"alert,omitempty"`
	// MailsDue are the mails about the task [notify] has yet to send,
	// and MailsFailing the send of the mails due that keeps failing.
	MailsDue     *notify.TaskMails   `json:"mails_due,omitempty"`
	MailsFailing *notify.SendFailure `json:"mails_failing,omitempty"`
	// Due counts the messages taken whose after-action or failure action
	// the server has not confirmed (actions_due, failure_actions_due);
	// ActionRefused is its last refusal of one.
	outcome.Due
	ActionRefused string `json:"action_refused,omitempty"`
	// Settling counts the UIDs the rules' search left out that wait for
	// the account's search_settle before they are done.
	Settling   *state.SettlingCount `json:"settling,omitempty"`
	StateError string               `json:"state_error,omitempty"`
	// Idle is what the daemon's IDLE watcher last reported, for a task
	// with idle = true.
	Idle *idleStatus `json:"idle,omitempty"`
	// Lease is, in cluster mode, which node holds the task now, and
	// LastNode the node its last run went on.
	Lease    *leaseStatus `json:"lease,omitempty"`
	LastNode string       `json:"last_node,omitempty"`
}

// leaseStatus is a task's lease as `mailtask status` shows it, by the
// database's clock.
type leaseStatus struct {
	Holder string    `json:"holder"`
	Epoch  int64     `json:"epoch"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	// Age is how long the holder has held it, in seconds.
	Age float64 `json:"age_seconds"`
}

// idleStatus is a task's IDLE connection as `mailtask status` shows it.
type idleStatus struct {
	// State is the watcher's (idling, connecting, lent, polling, failing,
	// stopped), "not running" when the daemon that wrote it is gone, or
	// "not started" when no daemon has watched the task.
	State      string     `json:"state"`
	Since      *time.Time `json:"since,omitempty"`
	Reconnects int        `json:"reconnects"`
	Failures   int        `json:"failures"`
	LastError  string     `json:"last_error,omitempty"`
	PID        int        `json:"pid,omitempty"`
	// Unhealthy: the connection failed unhealthy_after times in a row.
	Unhealthy bool `json:"unhealthy"`
}

// status is `mailtask status`: what the state files say, so it works
// whether or not the daemon is running.
func statusFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	nodes := fs.Bool("nodes", false, "cluster mode: print the nodes only (with --json, as a list of nodes)")
	problems := fs.Bool("problems", false, "only the tasks that need a look: last run failed or met a Microsoft 365 quarantine notice, state unreadable, messages kept aside, actions due, failing alert, IDLE unhealthy or its daemon gone")
	return func(ctx context.Context, e *env, tasks []string) error {
		return status(ctx, e, statusQuery{cfgPath: *cfgPath, asJSON: *asJSON, nodesOnly: *nodes, problems: *problems, tasks: tasks})
	}
}

// statusQuery is what `mailtask status` was asked to show.
type statusQuery struct {
	cfgPath                     string
	asJSON, nodesOnly, problems bool
	// tasks are the TASK operands: names or patterns (path.Match), all
	// tasks for none.
	tasks []string
}

func status(ctx context.Context, e *env, q statusQuery) error {
	cfg, err := loadConfig(q.cfgPath)
	if err != nil {
		return err
	}
	tasks, err := selectTasks(cfg, q.tasks)
	if err != nil {
		return err
	}
	node, err := openNode(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeNode(node)
	if q.nodesOnly && !clustered(node) {
		return usageError{"status --nodes: " + cfg.File + " has no state_store: only cluster mode has nodes"}
	}
	if q.nodesOnly && (len(q.tasks) > 0 || q.problems) {
		return usageError{"status --nodes shows the nodes alone: it takes no TASK nor --problems"}
	}
	// In cluster mode every task's lease and state come in two statements,
	// whatever the number of tasks, and the nodes in a third.
	var (
		leases map[string]pgstore.LeaseInfo
		states map[string]pgstore.TaskState
		nodes  []nodeStatus
	)
	if clustered(node) {
		if leases, err = leasesOf(ctx, node.Store()); err != nil {
			return err
		}
		list, err := node.Store().Nodes(ctx)
		if err != nil {
			return err
		}
		nodes = nodesStatus(list, leases, cfg.LeaseTime())
	}
	if q.nodesOnly {
		if q.asJSON {
			return printJSON(e.stdout, nodes)
		}
		printNodes(e.stdout, nodes, cluster.ConfigDigest(cfg))
		return nil
	}
	if clustered(node) {
		if states, err = node.Store().States(ctx); err != nil {
			return err
		}
	}
	names := make([]string, len(tasks))
	for i, t := range tasks {
		names[i] = t.Name
	}
	alerts, alertsErr := notify.AlertsOf(ctx, cfg, node.Notify(), names)
	if alertsErr != nil && clustered(node) {
		return alertsErr
	}
	outbox, outboxErr := notify.OutboxOf(ctx, cfg, node.Notify())
	if outboxErr != nil && clustered(node) {
		return outboxErr
	}
	unreadable := outboxErr != nil
	now := time.Now()
	var rows []taskStatus
	for _, t := range tasks {
		row := taskStatus{Task: t.Name, Account: t.Account, Schedule: t.Schedule}
		if t.Schedule != "" {
			// Validated on load; the error cannot happen.
			if sched, err := config.ParseSchedule(t.Schedule); err == nil {
				next := sched.Next(now)
				row.NextRun = &next
			}
			if t.Jitter != 0 {
				row.Jitter = t.Jitter.Std().String()
			}
		}
		var st *state.State
		if clustered(node) {
			st, err = stateOf(states, t.Name)
			clusterRow(&row, leases[t.Name])
		} else {
			st, err = state.Load(cfg.StateDir, t.Name)
		}
		if err != nil {
			row.StateError = err.Error()
			unreadable = true
		} else {
			row.LastRun, row.LastSuccess, row.Quarantined = st.LastRun, st.LastSuccess, len(st.Failed)
			row.LastNotice = st.Notice(now)
			row.Due = st.Due()
			row.ActionRefused = st.ActionRefused
			row.Settling = st.CountSettling()
		}
		if alertsErr != nil {
			// The file store keeps a file per task: one that cannot be
			// read marks its task's row, as its state file would, not
			// the whole status.
			if row.Alert, err = fileAlertOf(ctx, cfg, t.Name); err != nil {
				row.StateError = err.Error()
				unreadable = true
			}
		} else if a, ok := alerts[t.Name]; ok {
			row.Alert = &a
		}
		if tm, ok := outbox.Due[t.Name]; ok {
			row.MailsDue, row.MailsFailing = &tm, outbox.Failing
		}
		if t.Idle && !clustered(node) {
			if row.Idle, err = loadIdle(cfg, t.Name); err != nil {
				row.StateError = err.Error()
				unreadable = true
			}
		}
		rows = append(rows, row)
	}
	sum := summarise(rows)
	if q.problems {
		rows = slices.DeleteFunc(rows, func(r taskStatus) bool { return !r.needsLook() })
	}
	if q.asJSON {
		if err := printJSON(e.stdout, rows); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(e.stdout, sum)
		if lines := outboxLines(outbox, outboxErr); len(lines) > 0 {
			fmt.Fprintln(e.stdout, strings.Join(lines, "\n"))
		}
		if len(rows) > 0 {
			fmt.Fprintln(e.stdout)
			printStatus(e.stdout, rows, now)
		}
		if clustered(node) {
			printNodes(e.stdout, nodes, cluster.ConfigDigest(cfg))
		}
	}
	if unreadable {
		return errReported
	}
	return nil
}

// fileAlertOf reads the alert of task alone from the files under
// state_dir, nil for none.
func fileAlertOf(ctx context.Context, cfg *config.Config, task string) (*notify.Alerted, error) {
	alerts, err := notify.AlertsOf(ctx, cfg, nil, []string{task})
	if a, ok := alerts[task]; ok && err == nil {
		return &a, nil
	}
	return nil, err
}

// selectTasks returns the tasks of cfg that patterns name (path.Match,
// so a name is a pattern of itself), in the configuration's order; every
// task for no pattern. A pattern naming no task is a usage error, lest a
// misspelt name look like a task with nothing to report.
func selectTasks(cfg *config.Config, patterns []string) ([]*config.Task, error) {
	if len(patterns) == 0 {
		return cfg.Tasks, nil
	}
	matched := make([]bool, len(patterns))
	var tasks []*config.Task
	for _, t := range cfg.Tasks {
		named := false
		for i, p := range patterns {
			ok, err := path.Match(p, t.Name)
			if err != nil {
				return nil, usageError{fmt.Sprintf("status: %q is not a task name nor a pattern: %v", p, err)}
			}
			if ok {
				matched[i], named = true, true
			}
		}
		if named {
			tasks = append(tasks, t)
		}
	}
	for i, p := range patterns {
		if !matched[i] {
			return nil, usageError{fmt.Sprintf("status: %s has no task %q (mailtask validate lists the files and their tasks)", cfg.File, p)}
		}
	}
	return tasks, nil
}

// needsLook reports whether an admin should look at the task: what
// status --problems shows.
func (r taskStatus) needsLook() bool {
	return r.StateError != "" ||
		r.LastRun != nil && r.LastRun.Outcome == outcome.Failed || r.LastNotice != nil ||
		r.Due.Total() > 0 || r.Quarantined > 0 || r.Alert != nil ||
		r.Idle != nil && (r.Idle.Unhealthy || r.Idle.State == "not running")
}

// summarise says in a line how the tasks of rows stand, so that a status
// of thousands of tasks begins with what matters.
func summarise(rows []taskStatus) string {
	var ok, failed, never, look int
	for _, r := range rows {
		switch {
		case r.LastRun == nil:
			never++
		case r.LastRun.Outcome == outcome.Failed:
			failed++
		default:
			ok++
		}
		if r.needsLook() {
			look++
		}
	}
	noun := "tasks"
	if len(rows) == 1 {
		noun = "task"
	}
	line := fmt.Sprintf("%d %s: %d last ran without failing, %d failed, %d never ran", len(rows), noun, ok, failed, never)
	if look > 0 {
		line += fmt.Sprintf("; %d need a look (status --problems)", look)
	}
	return line
}

func printStatus(w io.Writer, rows []taskStatus, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tLAST RUN\tOUTCOME\tNEW\tSAVED\tFILES\tBYTES\tLAST SUCCESS\tNEXT RUN")
	var notes []string
	for _, r := range rows {
		last, how, counts := "never", "-", "-\t-\t-\t-"
		if run := r.LastRun; run != nil {
			last, how = stamp(run.Started), run.Outcome
			counts = fmt.Sprintf("%d\t%d\t%d\t%s", run.Seen, run.Saved, run.Files, run.Bytes)
		}
		success := "never"
		if r.LastSuccess != nil {
			success = stamp(r.LastSuccess.Started)
		}
		next := "manual (run-task)"
		if r.NextRun != nil {
			next = stamp(*r.NextRun)
			if r.Jitter != "" {
				next += " (+ up to " + r.Jitter + ")"
			}
		}
		switch {
		case r.Idle != nil && r.NextRun != nil:
			next += ", and on new mail"
		case r.Idle != nil:
			next = "on new mail (IDLE)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Task, last, how, counts, success, next)

		switch {
		case r.StateError != "":
			notes = append(notes, fmt.Sprintf("%s: cannot read its state: %s", r.Task, r.StateError))
		case r.LastRun != nil && r.LastRun.Outcome == outcome.Failed:
			note := fmt.Sprintf("%s: last run failed: %s", r.Task, r.LastRun.Error)
			if r.LastRun.Hint != "" {
				note += "\n  hint: " + r.LastRun.Hint
			}
			notes = append(notes, note)
		}
		if r.LastNotice != nil {
			notes = append(notes, r.Task+": "+r.LastNotice.Note(now))
		}
		if due := r.Due.Total(); due > 0 {
			note := fmt.Sprintf("%s: the actions on %d taken messages are due, not yet confirmed by the server; every run retries them", r.Task, due)
			if r.ActionRefused != "" {
				note += "\n  refused: " + r.ActionRefused
				if hint := diagnose.Hint(errors.New(r.ActionRefused)); hint != "" {
					note += "\n  hint: " + hint
				}
			}
			notes = append(notes, note)
		}
		if r.Quarantined > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d messages kept aside as failed (mailtask state show %s; once the cause is mended, mailtask state retry %s, or with --from-copy from the copies kept whole)", r.Task, r.Quarantined, r.Task, r.Task))
		}
		if a := r.Alert; a != nil {
			notes = append(notes, fmt.Sprintf("%s: failing since %s (%d runs); %d failure mails sent", r.Task, stamp(a.Since), a.Failures, a.Mailed))
		}
		if m := r.MailsDue; m != nil {
			notes = append(notes, fmt.Sprintf("%s: %s about it due, not sent yet, the oldest from %s", r.Task, mails(m.Mails), stamp(m.Oldest)))
		}
		if r.Idle != nil {
			notes = append(notes, r.Task+": "+r.Idle.describe())
		}
		switch l := r.Lease; {
		case l != nil:
			notes = append(notes, fmt.Sprintf("%s: held by %s for %s (lease epoch %d, until %s)", r.Task, l.Holder,
				(time.Duration(l.Age)*time.Second).String(), l.Epoch, stamp(l.Until)))
		case r.LastNode != "":
			notes = append(notes, fmt.Sprintf("%s: last ran on %s", r.Task, r.LastNode))
		}
	}
	tw.Flush()
	if len(notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, strings.Join(notes, "\n"))
	}
}

// outboxLines say, under the counting line, what [notify] has yet to
// send, cluster-wide, and why it does not go: the send that keeps
// failing, with its error and hint, and the records of mails due kept
// aside as damaged. None when nothing is due.
func outboxLines(ob notify.Outbox, err error) []string {
	if err != nil {
		return []string{"mails due ([notify]): cannot read them: " + err.Error()}
	}
	var lines []string
	total, oldest := 0, time.Time{}
	for _, tm := range ob.Due {
		total += tm.Mails
		if oldest.IsZero() || tm.Oldest.Before(oldest) {
			oldest = tm.Oldest
		}
	}
	if total > 0 {
		lines = append(lines, fmt.Sprintf("mails due ([notify]): %d about %s, the oldest from %s", total, taskCount(len(ob.Due)), stamp(oldest)))
	}
	if f := ob.Failing; f != nil {
		line := fmt.Sprintf("  sending them failed %d times in a row, since %s, last at %s: %s", f.Attempts, stamp(f.Since), stamp(f.Last), f.Error)
		if f.Hint != "" {
			line += "\n  hint: " + f.Hint
		}
		lines = append(lines, line)
	}
	for _, path := range ob.Damaged {
		lines = append(lines, fmt.Sprintf("mails due ([notify]): %s cannot be read; kept aside, its mail is not sent (read it, then remove it)", path))
	}
	return lines
}

// mails counts n mails in words.
func mails(n int) string {
	if n == 1 {
		return "1 mail"
	}
	return fmt.Sprintf("%d mails", n)
}

// printJSON prints v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// loadIdle reads what the daemon's watcher of task last reported.
func loadIdle(cfg *config.Config, task string) (*idleStatus, error) {
	st, err := state.LoadIdle(cfg.StateDir, task)
	if err != nil || st == nil {
		return &idleStatus{State: "not started"}, err
	}
	is := &idleStatus{
		State: st.State, Reconnects: st.Reconnects, Failures: st.Failures, LastError: st.LastError, PID: st.PID,
		Unhealthy: st.Failures >= cfg.UnhealthyAfter,
	}
	if !st.Since.IsZero() {
		is.Since = &st.Since
	}
	if alive, known := processAlive(st.PID); known && !alive && st.State != "stopped" {
		is.State, is.Since, is.Unhealthy = "not running", nil, false
	}
	return is, nil
}

// describe says in a line what the IDLE connection does.
func (s *idleStatus) describe() string {
	var line string
	switch s.State {
	case "idling":
		line = "IDLE: waiting for new mail since " + stamp(*s.Since)
	case "not started":
		return "IDLE: no daemon has watched the folder yet (mailtask run)"
	case "not running":
		return fmt.Sprintf("IDLE: the daemon that watched the folder (pid %d) is not running", s.PID)
	case "lent":
		line = "IDLE: connection lent to a run of the task"
	case "polling":
		line = "IDLE: the server does not offer IDLE; the task is polled instead"
	default:
		line = "IDLE: " + s.State
	}
	if s.Reconnects > 0 {
		line += fmt.Sprintf(" (%d reconnects)", s.Reconnects)
	}
	if s.Failures > 0 {
		line += fmt.Sprintf("; %d failures in a row, last: %s", s.Failures, s.LastError)
	}
	if s.Unhealthy {
		line += " (unhealthy)"
	}
	return line
}

// stamp formats t in local time, to the second.
func stamp(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }

// leasesOf reads every task's lease row, by task.
func leasesOf(ctx context.Context, store *pgstore.Store) (map[string]pgstore.LeaseInfo, error) {
	list, err := store.Leases(ctx)
	if err != nil {
		return nil, err
	}
	leases := make(map[string]pgstore.LeaseInfo, len(list))
	for _, l := range list {
		leases[l.Task] = l
	}
	return leases, nil
}

// clusterRow fills in what the database says of a task: who holds it now
// (a lease running by the database's clock), when it is due next, and
// where its last run went.
func clusterRow(row *taskStatus, l pgstore.LeaseInfo) {
	if l.Holder != "" && l.LeaseUntil.After(l.Now) {
		row.Lease = &leaseStatus{Holder: l.Holder, Epoch: l.Epoch, Since: l.ClaimedAt, Until: l.LeaseUntil,
			Age: l.Now.Sub(l.ClaimedAt).Round(time.Second).Seconds()}
	}
	if row.Schedule != "" && !l.NextDue.IsZero() {
		next := l.NextDue
		row.NextRun = &next
	}
	row.LastNode = l.LastNode
}

// stateOf is task's state among states: a task without a row has not run.
func stateOf(states map[string]pgstore.TaskState, task string) (*state.State, error) {
	ts, ok := states[task]
	if !ok {
		return &state.State{Version: state.Version, Task: task}, nil
	}
	return ts.State, ts.Err
}
