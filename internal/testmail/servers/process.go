package servers

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Start starts cmd and has t's cleanup end it by its PID: SIGTERM, on
// which daemons end and reap the children they forked, then, should it
// linger, SIGKILL to it and, if it leads one (Setpgid), its process group.
// The channel closes when it has exited.
func Start(t testing.TB, cmd *exec.Cmd) (<-chan struct{}, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("servers: %s: %w", cmd.Path, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			if cmd.SysProcAttr != nil && cmd.SysProcAttr.Setpgid {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	return exited, nil
}

// WaitFor polls ready until it holds, for up to 30 s, while the program
// that exited watches runs; what names what it waits for in the error.
func WaitFor(what string, exited <-chan struct{}, ready func() bool) error {
	for deadline := time.Now().Add(30 * time.Second); !ready(); {
		select {
		case <-exited:
			return fmt.Errorf("no %s: the program exited", what)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s within 30s", what)
		}
	}
	return nil
}

// UserName is the name of uid, or the number where it has none.
func UserName(uid int) string {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return strconv.Itoa(uid)
	}
	return u.Username
}

// Greets reports whether the server at addr greets with a line that
// starts with prefix ("* OK", "+OK") within a second.
func Greets(addr, prefix string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.HasPrefix(line, prefix)
}

// Log is the file dir/server.log, for a server's output, shown when t
// fails and closed when it ends.
func Log(t testing.TB, dir, server string) *os.File {
	t.Helper()
	log, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		log.Close()
		if t.Failed() {
			out, _ := os.ReadFile(log.Name())
			t.Logf("%s log:\n%s", server, out)
		}
	})
	return log
}
