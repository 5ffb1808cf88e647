package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailtask/internal/testmail"
)

// writeIdleConfig writes a config for task "t" on m with taskKeys,
// serving /metrics on a free port, and returns its path.
func (m *mailServer) writeIdleConfig(t *testing.T, dir string, taskKeys ...string) string {
	t.Helper()
	return m.writeConfigFor(t, dir, "listen = \"127.0.0.1:0\"\nstop_grace = \"30s\"", strings.Join(taskKeys, "\n"))
}

func (m *mailServer) deliver(t *testing.T, name string) {
	t.Helper()
	if _, err := m.srv.Append("INBOX", testmail.PDFMessage(name)); err != nil {
		t.Fatal(err)
	}
}

func metricsAddr(t *testing.T, proc *child) string {
	t.Helper()
	line := proc.waitLine(t, "serving /metrics and /healthz")
	return regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(line)[1]
}

// A task with idle = true and no schedule: the daemon runs it on new mail,
// shows it idling in /metrics and status, and on SIGTERM while idling ends
// IDLE, logs out and exits 0 at once.
func TestDaemonIdlesAndStopsPromptlyOnSIGTERM(t *testing.T) {
	m := startMailServer(t, false, 0)
	dir := t.TempDir()
	cfg := m.writeIdleConfig(t, dir, "idle = true")
	proc := startChild(t, "run", "--config", cfg)
	addr := metricsAddr(t, proc)
	// The run after connecting ends before the mail comes, so that the
	// one for the mail measures its delay.
	proc.waitLine(t, "msg=run", "task=t", "outcome=ok", "seen=0")
	proc.waitLine(t, "idling: waiting for new mail", "task=t")

	m.deliver(t, "invoice.pdf")
	proc.waitLine(t, "msg=run", "task=t", "outcome=ok", "saved=1", "files=1")
	if files := filesOf(t, filepath.Join(dir, "dest")); strings.Join(files, ",") != "invoice.pdf" {
		t.Errorf("files = %v", files)
	}
	body := get(t, "http://"+addr+"/metrics", 200)
	for _, want := range []string{`mailtask_idle_active{task="t"} 1`, `mailtask_idle_delivery_seconds_count{task="t"} 1`, `mailtask_idle_reconnects_total{task="t"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if body := get(t, "http://"+addr+"/healthz", 200); body != "ok\n" {
		t.Errorf("/healthz = %q", body)
	}
	if code, out, _ := run(t, "status", "--config", cfg); code != exitOK || !strings.Contains(out, "on new mail (IDLE)") || !strings.Contains(out, "t: IDLE: waiting for new mail since ") {
		t.Errorf("status while idling: exit %d\n%s", code, out)
	}

	proc.signal(t, syscall.SIGTERM)
	code, took := proc.wait(t)
	if code != exitOK {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, proc.output())
	}
	// Well within stop_grace: nothing waited for it.
	if took > 20*time.Second {
		t.Errorf("took %s to stop", took)
	}
	proc.waitLine(t, "no longer watching the folder", "task=t")
	proc.waitLine(t, "mailtask daemon stopped")
	if _, out, _ := run(t, "status", "--config", cfg); !strings.Contains(out, "t: IDLE: stopped") {
		t.Errorf("status after the stop:\n%s", out)
	}
}

// SIGHUP turning idle on starts watching the folder; turning it off stops
// watching and the task goes back to its schedule.
func TestSIGHUPTurnsIdleOnAndOff(t *testing.T) {
	m := startMailServer(t, false, 0)
	dir := t.TempDir()
	cfg := m.writeIdleConfig(t, dir, `schedule = "@hourly"`)
	proc := startChild(t, "run", "--config", cfg)
	addr := metricsAddr(t, proc)
	proc.waitLine(t, "mailtask daemon started", "tasks=1")

	m.writeIdleConfig(t, dir, `schedule = "@hourly"`, "idle = true")
	proc.signal(t, syscall.SIGHUP)
	proc.waitLine(t, "task changed; rescheduled", "task=t", "idle=true")
	proc.waitLine(t, "idling: waiting for new mail", "task=t")
	m.deliver(t, "first.pdf")
	proc.waitLine(t, "msg=run", "task=t", "outcome=ok", "saved=1")

	m.writeIdleConfig(t, dir, `schedule = "@hourly"`)
	proc.signal(t, syscall.SIGHUP)
	proc.waitLine(t, "no longer watching the folder", "task=t")
	proc.waitCount(t, 2, "configuration reloaded", "tasks=1")
	if body := get(t, "http://"+addr+"/metrics", 200); strings.Contains(body, "mailtask_idle_active") {
		t.Errorf("/metrics still shows the IDLE connection:\n%s", body)
	}
	if _, out, _ := run(t, "status", "--config", cfg); strings.Contains(out, "IDLE") {
		t.Errorf("status still shows the IDLE connection:\n%s", out)
	}

	proc.signal(t, syscall.SIGTERM)
	if code, _ := proc.wait(t); code != exitOK {
		t.Errorf("exit %d:\n%s", code, proc.output())
	}
	if files := filesOf(t, filepath.Join(dir, "dest")); strings.Join(files, ",") != "first.pdf" {
		t.Errorf("files = %v", files)
	}
}
