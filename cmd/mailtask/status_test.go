package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailtask/internal/outcome"
	"mailtask/internal/state"
)

func TestStatusReadsTheStateFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "m.toml", `
[accounts.a]
host = "outlook.office365.com"
username = "u"
password_env = "P"
[[task]]
name = "invoices"
account = "a"
destination = "d1"
schedule = "*/5 * * * *"
jitter = "30s"
[[task]]
name = "broken"
account = "a"
destination = "d2"
schedule = "@hourly"
[[task]]
name = "manual"
account = "a"
destination = "d3"
`)
	stateDir := filepath.Join(dir, "state")
	started := time.Date(2025, 3, 1, 8, 0, 0, 0, time.Local)
	noticed := time.Now().Add(-3*time.Hour - 10*time.Minute)
	save := func(task string, edit func(*state.State)) {
		st, err := state.Load(stateDir, task)
		if err != nil {
			t.Fatal(err)
		}
		edit(st)
		if err := st.Save(); err != nil {
			t.Fatal(err)
		}
	}
	save("invoices", func(st *state.State) {
		st.LastRun = &state.Run{Started: started, Duration: 2 * time.Second, Outcome: "ok", Counts: outcome.Counts{Seen: 4, Saved: 3, Files: 5, Bytes: 3 << 20}, QuarantineNotices: 1}
		st.LastSuccess = st.LastRun
		// Runs since have met no notice, but the one met is younger
		// than a day.
		st.LastNotice = &state.LastNotice{At: noticed, Notices: 2, Held: 5}
		st.AddFailure(state.Failure{Key: "uid:7", Reason: "unparseable"})
		// UIDs 5, 7 and 9 settle; 6 was taken.
		st.Done.AddRange(1, 4)
		st.Done.Add(6)
		st.Settling = state.Settling{{First: 5, Last: 7, Seen: started.Add(-time.Minute)}, {First: 9, Last: 9, Seen: started}}
	})
	save("broken", func(st *state.State) {
		st.LastRun = &state.Run{Started: started.Add(time.Hour), Outcome: "failed", Error: "login to outlook.office365.com:993 as u failed: AUTHENTICATE failed.", Hint: "The server refused the user name or password."}
		st.LastSuccess = &state.Run{Started: started.Add(-24 * time.Hour), Outcome: "ok"}
		st.PendingUIDs.AddRange(1, 19)
		st.ActionRefused = `after: the server refused after = "move" for 19 message(s) (uid:1): imap: NO Over quota`
	})

	alert := fmt.Sprintf(`{"class":"auth","since":%q,"failures":4,"mailed":2}`, started.Add(time.Hour).Format(time.RFC3339))
	if err := state.WriteFile(filepath.Join(stateDir, "broken.alert.json"), []byte(alert)); err != nil {
		t.Fatal(err)
	}

	before := time.Now()
	code, out, errOut := run(t, "status", "--config", cfg)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if lines[0] != "3 tasks: 1 last ran without failing, 1 failed, 1 never ran; 2 need a look (status --problems)" {
		t.Errorf("summary = %q", lines[0])
	}
	if !strings.HasPrefix(lines[2], "TASK") || !strings.Contains(lines[2], "NEXT RUN") {
		t.Errorf("header = %q", lines[2])
	}
	for _, want := range []string{
		"invoices  2025-03-01 08:00:00",
		"ok ",
		"3.0 MiB",
		"(+ up to 30s)",
		"broken    2025-03-01 09:00:00  failed",
		"2025-02-28 08:00:00",
		"manual    never",
		"manual (run-task)",
		"broken: last run failed: login to outlook.office365.com:993 as u failed: AUTHENTICATE failed.\n  hint: The server refused the user name or password.",
		"invoices: 1 messages kept aside as failed (mailtask state show invoices; once the cause is mended, mailtask state retry invoices, or with --from-copy from the copies kept whole)",
		"broken: failing since 2025-03-01 09:00:00 (4 runs); 2 failure mails sent",
		"broken: the actions on 19 taken messages are due, not yet confirmed by the server; every run retries them\n  refused: after: the server refused after = \"move\"",
		"over quota",
		"\ninvoices: met 2 Microsoft 365 quarantine notices at " + noticed.Format("15:04") + ", 3 h ago: 5 messages for this mailbox are held in quarantine",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "settling") {
		t.Errorf("status tells of what settles, which needs nobody's look:\n%s", out)
	}

	code, out, errOut = run(t, "status", "--json", "--config", cfg)
	if code != exitOK {
		t.Fatalf("--json: exit %d: %s", code, errOut)
	}
	var rows []taskStatus
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(rows) != 3 || rows[0].Task != "invoices" || rows[2].Task != "manual" {
		t.Fatalf("rows = %+v", rows)
	}
	inv := rows[0]
	if inv.NextRun == nil || inv.NextRun.Minute()%5 != 0 || inv.NextRun.Second() != 0 || inv.NextRun.Before(before) || inv.NextRun.After(before.Add(5*time.Minute)) {
		t.Errorf("next run of */5 = %v (now %v)", inv.NextRun, before)
	}
	if inv.LastRun == nil || inv.LastRun.Files != 5 || inv.LastRun.QuarantineNotices != 1 || inv.LastSuccess == nil || inv.Quarantined != 1 || inv.Jitter != "30s" {
		t.Errorf("invoices = %+v", inv)
	}
	if b := rows[1]; b.LastRun.Outcome != "failed" || b.LastRun.Hint == "" || b.Alert == nil || b.Alert.Mailed != 2 || !b.LastSuccess.Started.Equal(started.Add(-24*time.Hour)) || b.Due.After != 19 || b.ActionRefused == "" {
		t.Errorf("broken = %+v", b)
	}
	if m := rows[2]; m.NextRun != nil || m.LastRun != nil || m.Schedule != "" {
		t.Errorf("manual = %+v", m)
	}
	if c := inv.Settling; c == nil || c.Ranges != 2 || c.UIDsAtMost != 3 || !c.OldestSeen.Equal(started.Add(-time.Minute)) {
		t.Errorf("invoices' settling = %+v, want 3 UIDs in 2 ranges, the oldest first seen at %v", c, started.Add(-time.Minute))
	}
	if rows[1].Settling != nil {
		t.Errorf("broken's settling = %+v, want none", rows[1].Settling)
	}
	if n := inv.LastNotice; n == nil || !n.At.Equal(noticed) || n.Notices != 2 || n.Held != 5 {
		t.Errorf("invoices' last notice = %+v, want 2 notices holding 5, at %v", n, noticed)
	}
	if !strings.Contains(out, `"next_run": "`) || !strings.Contains(out, `"quarantine_notices": 1`) || !strings.Contains(out, `"last_notice": {`) {
		t.Errorf("json:\n%s", out)
	}
	// state show says it too, beside the state's JSON.
	code, out, errOut = run(t, "state", "show", "--config", cfg, "invoices")
	if code != exitOK || !json.Valid([]byte(out)) || !strings.Contains(errOut, "invoices: up to 3 UIDs the rules' search left out are settling (2 ranges, the oldest first seen 2025-03-01 07:59:00)") {
		t.Errorf("state show: exit %d\n%s\nstderr: %s", code, out, errOut)
	}

	// A state file that cannot be read is reported, and the exit code says so.
	if err := os.WriteFile(state.Path(stateDir, "manual"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "status", "--config", cfg)
	if code != exitFailed || !strings.Contains(out, "manual: cannot read its state: state file") {
		t.Errorf("corrupt state: exit %d\n%s", code, out)
	}
	// So is an alert file that cannot be read, on its task's row alone:
	// the others are shown as before.
	if err := os.Mkdir(filepath.Join(stateDir, "invoices.alert.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "status", "--config", cfg)
	if code != exitFailed || !strings.Contains(out, "invoices: cannot read its state: read what was mailed about failures") ||
		!strings.Contains(out, "broken: failing since 2025-03-01 09:00:00 (4 runs); 2 failure mails sent") {
		t.Errorf("unreadable alert file: exit %d\n%s", code, out)
	}
	if code, _, errOut := run(t, "status", "--config", cfg, "invoices", "extra"); code != exitUsage || !strings.Contains(errOut, `has no task "extra"`) {
		t.Errorf("a task that is not there: exit %d %s", code, errOut)
	}
}

// Among thousands of tasks, status shows those asked for, by name or
// pattern, or those that need a look; its first line counts them all.
func TestStatusSelectsTasks(t *testing.T) {
	dir := t.TempDir()
	var text strings.Builder
	text.WriteString("[accounts.a]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"P\"\n")
	for _, name := range []string{"acme-invoices", "acme-orders", "globex-invoices", "initech-invoices"} {
		fmt.Fprintf(&text, "[[task]]\nname = %q\naccount = \"a\"\ndestination = %q\n", name, name)
	}
	cfg := writeFile(t, dir, "m.toml", text.String())
	stateDir := filepath.Join(dir, "state")
	for task, outcome := range map[string]string{"acme-invoices": "ok", "acme-orders": "failed", "globex-invoices": "ok", "initech-invoices": "ok"} {
		st, err := state.Load(stateDir, task)
		if err != nil {
			t.Fatal(err)
		}
		st.LastRun = &state.Run{Started: time.Now(), Outcome: outcome}
		switch task {
		case "acme-invoices":
			// Runs that went well after one that met a Microsoft 365
			// quarantine notice: mail is still held where mailtask
			// cannot see it.
			st.LastNotice = &state.LastNotice{At: time.Now().Add(-2 * time.Hour), Notices: 1}
		case "initech-invoices":
			// A notice older than a day is forgotten.
			st.LastNotice = &state.LastNotice{At: time.Now().Add(-state.NoticeKept - time.Minute), Notices: 1}
		}
		if task == "globex-invoices" {
			st.AddFailure(state.Failure{Key: "uid:3", Reason: "unparseable"})
		}
		if err := st.Save(); err != nil {
			t.Fatal(err)
		}
	}
	tasks := func(args ...string) []string {
		t.Helper()
		code, out, errOut := run(t, append([]string{"status", "--json", "--config", cfg}, args...)...)
		if code != exitOK {
			t.Fatalf("status %v: exit %d: %s", args, code, errOut)
		}
		var rows []taskStatus
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, r := range rows {
			names = append(names, r.Task)
		}
		return names
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "[acme-invoices acme-orders globex-invoices initech-invoices]"},
		{[]string{"acme-*"}, "[acme-invoices acme-orders]"},
		{[]string{"*-invoices", "acme-invoices"}, "[acme-invoices globex-invoices initech-invoices]"},
		{[]string{"--problems"}, "[acme-invoices acme-orders globex-invoices]"},
		{[]string{"--problems", "acme-*"}, "[acme-invoices acme-orders]"},
	} {
		if got := fmt.Sprint(tasks(c.args...)); got != c.want {
			t.Errorf("status %v: %s, want %s", c.args, got, c.want)
		}
	}
	code, out, _ := run(t, "status", "--problems", "--config", cfg, "initech-*")
	if code != exitOK || out != "1 task: 1 last ran without failing, 0 failed, 0 never ran\n" {
		t.Errorf("no task needing a look: exit %d\n%s", code, out)
	}
	for _, bad := range []string{"acme", "[x"} {
		if code, _, errOut := run(t, "status", "--config", cfg, bad); code != exitUsage || !strings.Contains(errOut, strconv.Quote(bad)) {
			t.Errorf("status %s: exit %d %s", bad, code, errOut)
		}
	}
}

// For tasks with idle, status shows what the daemon's watcher last
// reported, and says so when that daemon is gone.
func TestStatusShowsTheIDLEConnection(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "m.toml", `
[accounts.a]
host = "outlook.office365.com"
username = "u"
password_env = "P"
max_connections = 5
[[task]]
name = "push"
account = "a"
destination = "d1"
idle = true
[[task]]
name = "both"
account = "a"
destination = "d2"
idle = true
schedule = "@hourly"
[[task]]
name = "gone"
account = "a"
destination = "d3"
idle = true
[[task]]
name = "never"
account = "a"
destination = "d4"
idle = true
`)
	stateDir := filepath.Join(dir, "state")
	since := time.Date(2025, 3, 1, 8, 0, 0, 0, time.Local)
	// A process that has exited: its pid is free (or reused, which a
	// status can only take at its word).
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for task, st := range map[string]state.IdleStatus{
		"push": {PID: os.Getpid(), State: "idling", Since: since, Reconnects: 2},
		"both": {PID: os.Getpid(), State: "failing", Failures: 3, LastError: "connect to outlook.office365.com:993 failed: i/o timeout"},
		"gone": {PID: dead.Process.Pid, State: "idling", Since: since},
	} {
		if err := state.SaveIdle(stateDir, task, st); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := run(t, "status", "--config", cfg)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"on new mail (IDLE)",
		", and on new mail",
		"push: IDLE: waiting for new mail since 2025-03-01 08:00:00 (2 reconnects)",
		"both: IDLE: failing; 3 failures in a row, last: connect to outlook.office365.com:993 failed: i/o timeout (unhealthy)",
		fmt.Sprintf("gone: IDLE: the daemon that watched the folder (pid %d) is not running", dead.Process.Pid),
		"never: IDLE: no daemon has watched the folder yet (mailtask run)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	code, out, _ = run(t, "status", "--json", "--config", cfg)
	var rows []taskStatus
	if err := json.Unmarshal([]byte(out), &rows); code != exitOK || err != nil {
		t.Fatalf("exit %d, %v:\n%s", code, err, out)
	}
	if p := rows[0].Idle; p == nil || p.State != "idling" || p.Since == nil || !p.Since.Equal(since) || p.Reconnects != 2 || p.Unhealthy {
		t.Errorf("push idle = %+v", p)
	}
	if b := rows[1].Idle; b == nil || b.State != "failing" || !b.Unhealthy || b.Failures != 3 {
		t.Errorf("both idle = %+v", b)
	}
	if g := rows[2].Idle; g == nil || g.State != "not running" || g.Since != nil {
		t.Errorf("gone idle = %+v", g)
	}
}
