package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// within bounds every wait on a child process.
const within = 30 * time.Second

// mailServer is an in-process IMAP server over TLS whose second FETCH can
// be held, so that a run is provably in the middle of a message.
type mailServer struct {
	srv      *testmail.IMAPServer
	caFile   string
	fetching chan struct{} // closed when the held FETCH arrives
	release  chan struct{} // close to let it proceed

	mu      sync.Mutex
	fetches int
	hold    bool
}

func startMailServer(t *testing.T, hold bool, messages int) *mailServer {
	t.Helper()
	ca, err := testmail.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	m := &mailServer{fetching: make(chan struct{}), release: make(chan struct{}), hold: hold}
	m.srv, err = testmail.StartIMAP(testmail.IMAPOptions{TLS: ca.ServerTLS, Username: "u@example.test", Password: "pw", Fault: m.fault})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.releaseFetch()
		m.srv.Close()
	})
	if m.caFile, err = ca.WriteCertFile(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= messages; i++ {
		name := fmt.Sprintf("%d.pdf", i)
		raw := testmail.NewMessage(name, testmail.Attachment{Name: name, ContentType: "application/pdf", Content: []byte("%PDF-1.4\n" + name + "\n%%EOF\n")})
		if _, err := m.srv.Append("INBOX", raw); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func (m *mailServer) fault(cmd string) error {
	if cmd != "FETCH" {
		return nil
	}
	m.mu.Lock()
	m.fetches++
	held := m.hold && m.fetches == 2
	m.mu.Unlock()
	if held {
		close(m.fetching)
		<-m.release
	}
	return nil
}

func (m *mailServer) releaseFetch() {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case <-m.release:
	default:
		close(m.release)
	}
}

func (m *mailServer) waitFetching(t *testing.T) {
	t.Helper()
	select {
	case <-m.fetching:
	case <-time.After(within):
		t.Fatal("the run never reached its second FETCH")
	}
}

// writeConfig writes a config for task "t" on m (batches of two, over one
// connection, so that holding its second FETCH holds the run) and returns
// its path.
func (m *mailServer) writeConfig(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	return m.writeConfigFor(t, dir, strings.Join(extra, "\n"), "schedule = \"@every 1s\"\nbatch_size = 2\nconnections = 1")
}

// writeConfigFor writes a config of the top-level keys top and task "t"
// on m with taskKeys, and returns its path.
func (m *mailServer) writeConfigFor(t *testing.T, dir, top, taskKeys string) string {
	t.Helper()
	host, port, _ := strings.Cut(m.srv.Addr, ":")
	text := fmt.Sprintf(`state_dir = "state"
%s
[accounts.a]
host = %q
port = %s
ca_file = %q
username = "u@example.test"
password = "pw"
timeout = "20s"
[[task]]
name = "t"
account = "a"
destination = "dest"
%s
`, top, host, port, m.caFile, taskKeys)
	path := filepath.Join(dir, "mailtask.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// child is mailtask running as a separate process, whose stderr a test
// reads line by line.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // of Wait, once exited

	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	c := &child{cmd: mailtaskCmd(args...), exited: make(chan struct{}), changed: make(chan struct{})}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stdout, c.cmd.Stderr = w, w // one stream, in order
	err = c.cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	go c.read(r)
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			c.cmd.Process.Kill() // by its pid; the test failed
			<-c.exited
		}
	})
	return c
}

func (c *child) read(r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		c.mu.Lock()
		c.lines = append(c.lines, sc.Text())
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	}
	c.err = c.cmd.Wait()
	close(c.exited)
}

// waitLine returns the first line holding every one of parts.
func (c *child) waitLine(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.After(within)
	for {
		c.mu.Lock()
		changed := c.changed
		for _, l := range c.lines {
			if containsAll(l, parts) {
				c.mu.Unlock()
				return l
			}
		}
		c.mu.Unlock()
		select {
		case <-changed:
		case <-c.exited:
			if l, ok := c.find(parts); ok {
				return l
			}
			t.Fatalf("mailtask exited (%v) without logging %q:\n%s", c.err, parts, c.output())
		case <-deadline:
			t.Fatalf("no line with %q in:\n%s", parts, c.output())
		}
	}
}

// waitCount waits until n lines hold every one of parts.
func (c *child) waitCount(t *testing.T, n int, parts ...string) {
	t.Helper()
	deadline := time.After(within)
	for {
		c.mu.Lock()
		changed := c.changed
		c.mu.Unlock()
		if c.count(parts...) >= n {
			return
		}
		select {
		case <-changed:
		case <-c.exited:
			t.Fatalf("mailtask exited (%v) before %d lines with %q:\n%s", c.err, n, parts, c.output())
		case <-deadline:
			t.Fatalf("fewer than %d lines with %q in:\n%s", n, parts, c.output())
		}
	}
}

func (c *child) count(parts ...string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.lines {
		if containsAll(l, parts) {
			n++
		}
	}
	return n
}

func (c *child) find(parts []string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.lines {
		if containsAll(l, parts) {
			return l, true
		}
	}
	return "", false
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "\n")
}

func (c *child) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait returns the exit code, and how long the exit took from now.
func (c *child) wait(t *testing.T) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case <-c.exited:
	case <-time.After(within):
		t.Fatalf("mailtask did not exit:\n%s", c.output())
	}
	return c.cmd.ProcessState.ExitCode(), time.Since(start)
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// SIGTERM while a message is on its way: the daemon and run-task finish
// that message, commit it, log out and exit 0. Meanwhile a manual run of
// the same task from another process is refused with exit code 3.
func TestSIGTERMMidRunCommitsTheMessageInHandAndExits0(t *testing.T) {
	t.Parallel() // servers, child processes and directories of its own; it mostly waits on them
	for _, c := range []struct {
		name string
		args func(cfg string) []string
	}{
		{"daemon", func(cfg string) []string { return []string{"run", "--config", cfg} }},
		{"run-task", func(cfg string) []string { return []string{"run-task", "--config", cfg, "t"} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := startMailServer(t, true, 5)
			dir := t.TempDir()
			cfg := m.writeConfig(t, dir)
			proc := startChild(t, c.args(cfg)...)
			m.waitFetching(t) // messages 1 and 2 are committed; 3 and 4 are being fetched

			code, _, errOut := run(t, "run-task", "--config", cfg, "t")
			if code != exitRunning || !strings.Contains(errOut, fmt.Sprintf(`task "t" is already running (pid %d)`, proc.cmd.Process.Pid)) {
				t.Errorf("second runner: exit %d, %q", code, errOut)
			}

			proc.signal(t, syscall.SIGTERM)
			proc.waitLine(t, "stop requested") // logged once the run can see it
			m.releaseFetch()
			code, took := proc.wait(t)
			if code != exitOK {
				t.Fatalf("exit %d after SIGTERM:\n%s", code, proc.output())
			}
			if took > 20*time.Second {
				t.Errorf("took %s to stop", took)
			}

			// Message 3 was in hand: it is committed; 4 and 5 wait.
			files := filesOf(t, filepath.Join(dir, "dest"))
			if strings.Join(files, ",") != "1.pdf,2.pdf,3.pdf" {
				t.Errorf("files = %v", files)
			}
			st, err := state.Load(filepath.Join(dir, "state"), "t")
			if err != nil {
				t.Fatal(err)
			}
			if st.Done.String() != "1:3" || st.LastRun == nil || st.LastRun.Outcome != "stopped" {
				t.Errorf("state: done %s, last run %+v", st.Done.String(), st.LastRun)
			}
			if c.name == "daemon" {
				proc.waitLine(t, "msg=run", "task=t", "outcome=stopped", "seen=5", "saved=3", "files=3")
				proc.waitLine(t, "mailtask daemon stopped")
			} else {
				proc.waitLine(t, "t: 5 new, 3 saved", "(stopped on request; the rest wait for the next run)")
			}

			// Nothing is lost or doubled: a later run takes exactly the rest.
			code, out, errOut := run(t, "run-task", "--config", cfg, "t")
			if code != exitOK || !strings.Contains(out, "t: 2 new, 2 saved") {
				t.Errorf("next run: exit %d\n%s%s", code, out, errOut)
			}
			if files := filesOf(t, filepath.Join(dir, "dest")); len(files) != 5 {
				t.Errorf("files after the next run: %v", files)
			}
		})
	}
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	m := startMailServer(t, true, 5)
	dir := t.TempDir()
	proc := startChild(t, "run", "--config", m.writeConfig(t, dir, `log_level = "debug"`))
	m.waitFetching(t)
	// The first batch is committed while the second is being fetched.
	proc.waitLine(t, "batch committed", "messages=2")
	proc.signal(t, syscall.SIGTERM)
	proc.waitLine(t, "stop requested")
	proc.signal(t, syscall.SIGINT)
	code, took := proc.wait(t)
	if code != exitFailed || took > 10*time.Second {
		t.Errorf("exit %d after %s", code, took)
	}
	proc.waitLine(t, "interrupt again: exiting at once")
	// What was committed stays committed; nothing half-written is visible.
	if files := filesOf(t, filepath.Join(dir, "dest")); strings.Join(files, ",") != "1.pdf,2.pdf" {
		t.Errorf("files = %v", files)
	}
	st, err := state.Load(filepath.Join(dir, "state"), "t")
	if err != nil || st.Done.String() != "1:2" {
		t.Errorf("state: %v, done %s", err, st.Done.String())
	}
}

// A daemon stopping cleanly sends the mail its last run recorded rather
// than keep it for a next start that may never come. Its window loop sends
// at each minute's start: without the flush the mail arrives before the
// daemon exits only when a minute began between the run and the signal.
func TestACleanStopSendsTheMailsDue(t *testing.T) {
	srv, caFile := startSMTP(t)
	cfg := notifyConfig(t, srv, caFile)
	editFile(t, cfg, `retries = 0`, "retries = 0\nschedule = \"* * * * * *\"")
	proc := startChild(t, "run", "--config", cfg)
	proc.waitLine(t, "msg=run", "task=t", "outcome=failed")
	proc.signal(t, syscall.SIGTERM)
	if code, _ := proc.wait(t); code != exitOK {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, proc.output())
	}
	got := srv.Received()
	if len(got) != 1 || !strings.Contains(string(got[0].Data), `task "t" failed`) {
		t.Fatalf("received %d mails by the daemon's exit, want the failure's\n%s", len(got), proc.output())
	}
}

// A run that cannot finish within stop_grace is abandoned: the daemon
// exits 1, what was committed stays, and nothing half-written is visible.
func TestStopGraceAbandonsStuckRuns(t *testing.T) {
	m := startMailServer(t, true, 5)
	dir := t.TempDir()
	proc := startChild(t, "run", "--config", m.writeConfig(t, dir, `stop_grace = "1s"`))
	m.waitFetching(t) // the server holds the second FETCH and never lets go
	proc.signal(t, syscall.SIGTERM)
	proc.waitLine(t, "stop requested", "grace=1s")
	code, took := proc.wait(t)
	if code != exitFailed || took > 20*time.Second {
		t.Errorf("exit %d after %s, want %d soon after the grace", code, took, exitFailed)
	}
	proc.waitLine(t, "abandoning them")
	if files := filesOf(t, filepath.Join(dir, "dest")); strings.Join(files, ",") != "1.pdf,2.pdf" {
		t.Errorf("files = %v", files)
	}
	st, err := state.Load(filepath.Join(dir, "state"), "t")
	if err != nil || st.Done.String() != "1:2" {
		t.Errorf("state: %v, done %s", err, st.Done.String())
	}
}

func TestSIGHUPReloadsAValidConfigAndKeepsTheOldOnAnInvalidOne(t *testing.T) {
	m := startMailServer(t, false, 0)
	dir := t.TempDir()
	listen := `listen = "127.0.0.1:0"`
	cfg := m.writeConfig(t, dir, listen)
	proc := startChild(t, "run", "--config", cfg)
	line := proc.waitLine(t, "serving /metrics and /healthz")
	addr := regexp.MustCompile(`listen=(\S+)`).FindStringSubmatch(line)[1]
	proc.waitLine(t, "mailtask daemon started", "tasks=1")

	// A valid config with a second task.
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	added := string(text) + "[[task]]\nname = \"hourly\"\naccount = \"a\"\ndestination = \"dest2\"\nschedule = \"@hourly\"\n"
	if err := os.WriteFile(cfg, []byte(added), 0o600); err != nil {
		t.Fatal(err)
	}
	proc.signal(t, syscall.SIGHUP)
	proc.waitLine(t, "task added", "task=hourly")
	proc.waitLine(t, "configuration reloaded", "tasks=2")
	// The new task's loop, started by the reload, publishes its next run.
	var body string
	waitFor(t, within, func() string { return "/metrics after reload:\n" + body }, func() bool {
		body = get(t, "http://"+addr+"/metrics", 200)
		return strings.Contains(body, `mailtask_next_run_timestamp_seconds{task="hourly"}`) && strings.Contains(body, `mailtask_runs_total{task="t"}`)
	})
	if body := get(t, "http://"+addr+"/healthz", 200); body != "ok\n" {
		t.Errorf("/healthz = %q", body)
	}

	// An invalid one: logged with what to fix, and the old one runs on.
	if err := os.WriteFile(cfg, []byte(added+"bogus_key = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	proc.signal(t, syscall.SIGHUP)
	line = proc.waitLine(t, "the new configuration is invalid; keeping the running one")
	if !strings.Contains(line, "bogus_key: unknown key") {
		t.Errorf("reload error does not name the key: %s", line)
	}
	// The running configuration goes on: "t" still runs every second.
	proc.waitCount(t, proc.count("msg=run task=t outcome=ok")+2, "msg=run task=t outcome=ok")

	proc.signal(t, syscall.SIGTERM)
	if code, _ := proc.wait(t); code != exitOK {
		t.Errorf("exit %d:\n%s", code, proc.output())
	}
}

func TestRunRefusesAConfigWithNothingScheduled(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "m.toml", "[accounts.a]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n[[task]]\nname = \"t\"\naccount = \"a\"\ndestination = \"d\"\n")
	code, _, errOut := run(t, "run", "--config", cfg)
	if code != exitUsage || !strings.Contains(errOut, "no task has a schedule") {
		t.Errorf("exit %d: %s", code, errOut)
	}
	if code, _, errOut := run(t, "run", "--config", cfg, "t"); code != exitUsage || !strings.Contains(errOut, "run takes no arguments") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

func get(t *testing.T, url string, want int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != want {
		t.Errorf("GET %s: %d, want %d\n%s", url, resp.StatusCode, want, b)
	}
	return string(b)
}

// filesOf lists dir's file names, sorted, failing on temporary files.
func filesOf(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left in the destination: %s", e.Name())
			continue
		}
		names = append(names, e.Name())
	}
	return names
}
