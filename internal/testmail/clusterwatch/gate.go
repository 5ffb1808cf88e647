package clusterwatch

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// probeConfig is a configuration of cluster mode: one task, its state on
// PostgreSQL (a URL nothing listens on), its files on S3.
const probeConfig = `state_store_env = "MAILTASK_CLUSTER_PROBE_DB"
[accounts.a]
host = "127.0.0.1"
port = 1
tls = "none"
username = "u"
password = "p"
[[task]]
name = "t"
account = "a"
schedule = "@every 1h"
destination = "s3://probe/t"
`

// Refused runs `mailtask run` (command makes it, given a configuration
// file's path) on a configuration of cluster mode written into dir, and
// reports whether it exited 2 saying that cluster mode is being built, as
// every mailtask before the wiring of branch i23b does, and what it
// said. A mailtask that runs the configuration is stopped after 30 s.
func Refused(dir string, command func(config string) *exec.Cmd) (bool, string, error) {
	path := filepath.Join(dir, "cluster-probe.toml")
	if err := os.WriteFile(path, []byte(probeConfig), 0o600); err != nil {
		return false, "", err
	}
	cmd := command(path)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, "MAILTASK_CLUSTER_PROBE_DB=postgres://127.0.0.1:1/none")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return false, "", err
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill() // by its PID: it runs the configuration
		<-exited
	}
	text := strings.TrimSpace(out.String())
	return cmd.ProcessState.ExitCode() == 2 && strings.Contains(text, BeingBuilt), text, nil
}
