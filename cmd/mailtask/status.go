package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"mailtask/internal/config"
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
	// Quarantined counts messages kept aside as unparseable.
	Quarantined int    `json:"quarantined"`
	StateError  string `json:"state_error,omitempty"`
}

// status is `mailtask status`: what the state files say, so it works
// whether or not the daemon is running.
func status(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "status", "[--config F] [--json]")
	cfgPath := fs.String("config", "", "configuration file")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return usageError{fmt.Sprintf("status takes no arguments (got %q)", positional)}
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	now := time.Now()
	var rows []taskStatus
	unreadable := false
	for _, t := range cfg.Tasks {
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
		st, err := state.Load(cfg.StateDir, t.Name)
		if err != nil {
			row.StateError = err.Error()
			unreadable = true
		} else {
			row.LastRun, row.LastSuccess, row.Quarantined = st.LastRun, st.LastSuccess, len(st.Failed)
		}
		rows = append(rows, row)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return err
		}
	} else {
		printStatus(e.stdout, rows)
	}
	if unreadable {
		return silentFailure
	}
	return nil
}

func printStatus(w io.Writer, rows []taskStatus) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tLAST RUN\tOUTCOME\tNEW\tSAVED\tFILES\tBYTES\tLAST SUCCESS\tNEXT RUN")
	var notes []string
	for _, r := range rows {
		last, outcome, counts := "never", "-", "-\t-\t-\t-"
		if run := r.LastRun; run != nil {
			last, outcome = stamp(run.Started), run.Outcome
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Task, last, outcome, counts, success, next)

		switch {
		case r.StateError != "":
			notes = append(notes, fmt.Sprintf("%s: cannot read its state: %s", r.Task, r.StateError))
		case r.LastRun != nil && r.LastRun.Outcome == "failed":
			note := fmt.Sprintf("%s: last run failed: %s", r.Task, r.LastRun.Error)
			if r.LastRun.Hint != "" {
				note += "\n  hint: " + r.LastRun.Hint
			}
			notes = append(notes, note)
		}
		if r.Quarantined > 0 {
			notes = append(notes, fmt.Sprintf("%s: %d messages kept aside as unparseable (mailtask state show %s)", r.Task, r.Quarantined, r.Task))
		}
	}
	tw.Flush()
	if len(notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, strings.Join(notes, "\n"))
	}
}

// stamp formats t in local time, to the second.
func stamp(t time.Time) string { return t.Local().Format("2006-01-02 15:04:05") }
