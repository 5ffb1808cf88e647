package servers

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// A Mount is one mount of a Namespace: Layers shown over Target's own
// content (an overlay, read-only, the first layer on top), or the
// directory Bind mounted onto Target.
type Mount struct {
	Target string
	Layers []string
	Bind   string
}

// Namespace is a private mount namespace, held open by a process of its
// own, in which programs see the test's files at the paths compiled into
// them: Courier reads /etc/courier and its authentication socket in
// /run/courier, popa3d reads /var/mail and /etc/passwd. Nothing outside the
// namespace sees its mounts.
type Namespace struct {
	holder *exec.Cmd
	stdin  io.Closer
	done   chan struct{}
}

// NeedRoot skips t, or fails it under CI=true, unless the test runs as
// root, which a Namespace needs; harnesses call it before preparing one.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Getuid() != 0 {
		skipOrFail(t, "this server reads files at paths compiled into it, which the test mounts over in a private mount namespace: that needs root")
	}
}

// Namespace makes a mount namespace with mounts, in order, until t ends.
// Making one needs root (NeedRoot).
func (r Root) Namespace(t testing.TB, mounts ...Mount) *Namespace {
	t.Helper()
	NeedRoot(t)
	ns, err := newNamespace(mounts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.close)
	return ns
}

func newNamespace(mounts []Mount) (*Namespace, error) {
	for _, m := range mounts {
		for _, p := range append([]string{m.Target, m.Bind}, m.Layers...) {
			if strings.ContainsAny(p, ":,") {
				return nil, fmt.Errorf("servers: %q: a path of a mount may not hold ':' or ','", p)
			}
		}
	}
	// The holder reports once it is in its own namespace, then waits on
	// its standard input, which closes should the test binary die.
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-c", "echo unshared; exec cat >/dev/null")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("servers: a mount namespace needs unshare (util-linux): %w", err)
	}
	ns := &Namespace{holder: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(ns.done)
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err == nil && line != "unshared\n" {
		err = fmt.Errorf("it said %q", line)
	}
	if err == nil {
		err = ns.checkPrivate()
	}
	for _, m := range mounts {
		if err != nil {
			break
		}
		err = ns.mount(m)
	}
	if err != nil {
		ns.close()
		return nil, fmt.Errorf("servers: mount namespace: %w", err)
	}
	return ns, nil
}

// checkPrivate makes sure the holder is in another namespace than ours
// before anything is mounted in its.
func (ns *Namespace) checkPrivate() error {
	mine, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	theirs, err := os.Readlink(ns.path())
	if err != nil {
		return err
	}
	if mine == theirs {
		return errors.New("the holder shares the test's mount namespace")
	}
	return nil
}

func (ns *Namespace) path() string { return fmt.Sprintf("/proc/%d/ns/mnt", ns.holder.Process.Pid) }

func (ns *Namespace) mount(m Mount) error {
	args := []string{"mount", "--bind", m.Bind, m.Target}
	if m.Bind == "" {
		args = []string{"mount", "-t", "overlay", "overlay", "-o", "lowerdir=" + strings.Join(append(m.Layers, m.Target), ":"), m.Target}
	}
	out, err := exec.Command("nsenter", append([]string{"--mount=" + ns.path(), "--"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Command is argv run inside the namespace.
func (ns *Namespace) Command(argv ...string) []string {
	return append([]string{"nsenter", "--mount=" + ns.path(), "--"}, argv...)
}

// close ends the holder by its PID; the namespace goes with the last
// process in it.
func (ns *Namespace) close() {
	ns.stdin.Close()
	_ = ns.holder.Process.Kill()
	<-ns.done
}
