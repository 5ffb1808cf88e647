package main

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"mailtask/internal/config"
	"mailtask/internal/outcome"
	"mailtask/internal/testmail"
	"mailtask/tasks/popimap"
)

const (
	demoUser     = "invoices@demo.example"
	demoPassword = "demo-app-password"
)

// demo runs the real task path against an in-process IMAP server over TLS,
// preloaded with realistic mail, twice: the second run must take nothing.
func demo(ctx context.Context, e *env, args []string) error {
	flags := newFlags(e, "demo", "[--dir D]")
	dir := flags.String("dir", "", "where to put the config, state and files (default: a new temporary directory)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "mailtask-demo-")
		if err != nil {
			return err
		}
		*dir = d
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	ca, err := testmail.NewCA()
	if err != nil {
		return err
	}
	srv, err := testmail.StartIMAP(testmail.IMAPOptions{
		TLS:       ca.ServerTLS,
		Username:  demoUser,
		Password:  demoPassword,
		Mailboxes: []string{"Processed"},
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	corpus := testmail.DemoCorpus()
	for _, f := range corpus {
		if _, err := srv.Append("INBOX", f.Raw); err != nil {
			return fmt.Errorf("demo: preload %s: %w", f.Name, err)
		}
	}
	caFile, err := ca.WriteCertFile(*dir)
	if err != nil {
		return err
	}
	cfgFile, err := writeDemoConfig(*dir, srv.Addr, caFile)
	if err != nil {
		return err
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "demo: IMAP server with TLS on %s holding %d messages; config %s\n", srv.Addr, len(corpus), cfgFile)

	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	for i, label := range []string{"first run", "second run (nothing new expected)"} {
		sum, err := popimap.Run(ctx, popimap.Options{Config: cfg, Task: cfg.Tasks[0], Log: log})
		fmt.Fprintf(e.stdout, "demo: %s: %s\n", label, summaryLine(sum, false))
		if err != nil {
			return taskFailure(e, cfg.Tasks[0].Name, err)
		}
		if i == 1 && sum.Seen != 0 {
			return fmt.Errorf("demo: the second run found %d new messages; it should have found none", sum.Seen)
		}
	}
	dest := cfg.Tasks[0].Destination
	fmt.Fprintf(e.stdout, "demo: files are in %s:\n", dest)
	if err := listFiles(e, dest); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "demo: a message that cannot be parsed is kept aside in %s\n", popimap.QuarantineDir(cfg.StateDir, cfg.Tasks[0].Name))
	fmt.Fprintf(e.stdout, "demo: try `mailtask state show --config %s demo-invoices`\n", cfgFile)
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
move_to = "Processed"
retries = 0  # the demo's server ends with the demo: retrying a connection could only wait
`, host, port, caFile, demoUser, demoPassword)
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
