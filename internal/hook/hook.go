package hook

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"
)

// Command is a configured hook.
type Command struct {
	Argv    []string
	Timeout time.Duration
	// Hide lists environment variables the hook must not inherit.
	Hide []string
	// TempDir holds, while the hook runs, the files of values too long for
	// the environment (see MaxValue); "" means os.TempDir().
	TempDir string
}

// Env is the MAILTASK_* variables of one run, name without the prefix ->
// value: {"FILE": "/srv/drop/a.pdf"} becomes MAILTASK_FILE.
type Env map[string]string

// Prefix starts the name of every variable a hook is given.
const Prefix = "MAILTASK_"

// MaxValue is the longest value a variable is given. Linux refuses to
// start a program with one longer than 128 KB ("argument list too long"),
// and a sender chooses the subject: a longer value is cut, at a line's
// end for lists such as FILES, its name is listed in MAILTASK_TRUNCATED,
// and the whole value is in the file MAILTASK_<NAME>_FILE names (0600,
// removed once the hook has ended).
const MaxValue = 4 << 10

// outputTail is how much of a hook's output an error quotes: enough for
// the last lines of a failure, not a log's worth.
const outputTail = 2048

// Error is a hook run that failed: it could not start, exited non-zero or
// ran out of time.
type Error struct {
	Argv     []string
	Err      error
	TimedOut bool
	Output   string // the end of its stdout and stderr
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hook %s: ", e.Argv[0])
	if e.TimedOut {
		b.WriteString("timed out")
	} else {
		b.WriteString(e.Err.Error())
	}
	if out := strings.TrimSpace(e.Output); out != "" {
		fmt.Fprintf(&b, "; output ends: %q", out)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Run runs c with env added to the process environment and waits for it,
// at most c.Timeout.
func (c Command) Run(ctx context.Context, env Env) error {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	marker := rand.Text()
	env, spilled, err := spill(withMarker(env, marker), c.TempDir)
	defer removeAll(spilled)
	if err != nil {
		return &Error{Argv: c.Argv, Err: err}
	}
	cmd := exec.CommandContext(ctx, c.Argv[0], c.Argv[1:]...)
	cmd.Env = c.environ(env)
	out := &tail{max: outputTail}
	cmd.Stdout, cmd.Stderr = out, out
	killGroup(cmd, marker)
	// Output pipes held open by an orphaned grandchild must not block
	// Wait forever once the group is killed.
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	if err == nil {
		return nil
	}
	herr := &Error{Argv: c.Argv, Err: err, Output: out.String()}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		herr.TimedOut = true
	}
	return herr
}

// markerVar is the variable that marks a hook and whatever it starts, so
// that what escaped its process group can be found and killed with it.
const markerVar = "HOOK"

func withMarker(env Env, marker string) Env {
	out := maps.Clone(env)
	if out == nil {
		out = Env{}
	}
	out[markerVar] = marker
	return out
}

// environ is the process environment without the hidden variables and
// any stale MAILTASK_* ones, plus env.
func (c Command) environ(env Env) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if slices.Contains(c.Hide, name) || strings.HasPrefix(name, Prefix) {
			continue
		}
		out = append(out, kv)
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		// A NUL cannot be passed in the environment; exec would refuse
		// the whole run.
		out = append(out, Prefix+k+"="+strings.ReplaceAll(env[k], "\x00", ""))
	}
	return out
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = slices.Clone(t.buf[over:])
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.ToValidUTF8(t.buf, []byte("?")))
}
