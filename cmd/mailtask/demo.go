package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"mailtask/internal/config"
	"mailtask/internal/demo"
	"mailtask/internal/outcome"
	"mailtask/internal/state"
	"mailtask/tasks/popimap"
)

// demo runs the real task path against an in-process IMAP server over TLS,
// preloaded with realistic mail, twice: the second run must take nothing.
func demoFlags(fs *flag.FlagSet) runFunc {
	dir := fs.String("dir", "", "the `DIR` to put the config, state and files in (default: a new temporary directory)")
	return func(ctx context.Context, e *env, _ []string) error { return runDemo(ctx, e, *dir) }
}

func runDemo(ctx context.Context, e *env, dir string) error {
	if dir == "" {
		d, err := os.MkdirTemp("", "mailtask-demo-")
		if err != nil {
			return err
		}
		dir = d
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mbox, err := demo.StartMailbox()
	if err != nil {
		return err
	}
	defer mbox.Close()
	caFile, err := mbox.CA.WriteCertFile(dir)
	if err != nil {
		return err
	}
	cfgFile, err := writeDemoConfig(dir, mbox.Addr, caFile)
	if err != nil {
		return err
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return err
	}
	task := cfg.Tasks[0]
	fmt.Fprintf(e.stdout, "demo: IMAP server with TLS on %s holding %d messages; config %s\n", mbox.Addr, mbox.Messages, cfgFile)

	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for i, label := range []string{"first run", "second run (nothing new expected)"} {
		sum, err := popimap.Run(ctx, popimap.Options{Config: cfg, Task: task, Log: log})
		fmt.Fprintf(e.stdout, "demo: %s: %s\n", label, summaryLine(sum, false))
		if err != nil {
			return taskFailure(e, task.Name, err)
		}
		if i == 1 && sum.Seen != 0 {
			return fmt.Errorf("demo: the second run found %d new messages; it should have found none", sum.Seen)
		}
	}
	fmt.Fprintf(e.stdout, "demo: files are in %s:\n", task.Destination)
	if err := listFiles(e, task.Destination); err != nil {
		return err
	}
	if err := reportKeptAside(e, cfg, task); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "demo: try `mailtask state show --config %s %s`\n", cfgFile, task.Name)
	return nil
}

// reportKeptAside says which messages the runs kept aside as unparseable,
// as the task's state records them, or that there were none.
func reportKeptAside(e *env, cfg *config.Config, task *config.Task) error {
	st, err := state.Load(cfg.StateDir, task.Name)
	if err != nil {
		return err
	}
	if len(st.Failed) == 0 {
		fmt.Fprintf(e.stdout, "demo: no message had to be kept aside: every one could be parsed (one that cannot be would be kept in %s, with its reason)\n", popimap.QuarantineDir(cfg.StateDir, task.Name))
		return nil
	}
	fmt.Fprintf(e.stdout, "demo: kept aside because they could not be parsed (%d):\n", len(st.Failed))
	for _, f := range st.Failed {
		fmt.Fprintf(e.stdout, "  %s (%s)\n", f.Path, f.Reason)
	}
	return nil
}

func writeDemoConfig(dir, addr, caFile string) (string, error) {
	host, port, _ := strings.Cut(addr, ":")
	text := fmt.Sprintf(`# Written by "mailtask demo": an IMAP account on a local test server.
state_dir = "state"

[accounts.demo]
protocol = "imap"
host = %q
port = %s
tls = "implicit"
ca_file = %q
username = %q
password = %q

[[task]]
name = "demo-invoices"
account = "demo"
schedule = "@every 5m"
mailbox = "INBOX"
destination = "files"
after = "move"
move_to = %q
retries = 0  # the demo's server ends with the demo: retrying a connection could only wait
`, host, port, caFile, demo.User, demo.Password, demo.Processed)
	path := filepath.Join(dir, "mailtask.toml")
	return path, os.WriteFile(path, []byte(text), 0o600)
}

func listFiles(e *env, root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		fmt.Fprintf(e.stdout, "  %-40s %10s\n", rel, outcome.Bytes(info.Size()))
		return nil
	})
}
