// Command mailtask runs scheduled mail-ingestion tasks: it polls IMAP and
// POP3 mailboxes, saves the attachments of the messages it has not taken
// yet into folders, and remembers what it took.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/scheduler"
	"mailtask/internal/state"
	"mailtask/tasks/popimap"
)

// Exit codes, documented in the README.
const (
	exitOK      = 0 // success
	exitFailed  = 1 // a task ran and failed
	exitUsage   = 2 // bad command line or configuration
	exitRunning = 3 // the task is already running elsewhere
)

// command is one subcommand.
type command struct {
	name, args, summary string
	run                 func(ctx context.Context, env *env, args []string) error
}

var commands = []command{
	{"run-task", "[--config F] [--dry-run] [--log-level L] TASK", "run one task once, now", runTask},
	{"validate", "[--config F]", "check the configuration without connecting", validate},
	{"state", "show|reset [--config F] TASK", "show or forget what a task has taken", stateCmd},
	{"check", "[--config F] TASK", "connect, sign in and select as a run would, step by step", check},
	{"auth", "login|status [--config F] [--device] ACCOUNT", "sign an OAuth2 account in, or show its tokens", authCmd},
	{"notify", "test|digest [--config F]", "send a test mail or the digest through [notify]", notifyCmd},
	{"demo", "[--dir D]", "run a task against a built-in test server, twice", demo},
	{"run", "[--config F]", "the daemon: run every task on its schedule until stopped", runDaemon},
	{"status", "[--config F] [--json]", "show each task's last run, last success and next run", status},
	{"db", "migrate [--config F]", "create or upgrade cluster mode's database schema", dbCmd},
}

// env is what commands share: where they print, and how the process is
// asked to stop (nil in tests that run commands in-process).
type env struct {
	stdout, stderr io.Writer
	shutdown       *shutdown
	// run runs a task once; nil means popimap.Unattended on the system
	// clock (tests hand in others).
	run popimap.RunFunc
}

// taskRun is how run-task and the daemon run a task: e.run, with a panic
// turned into a failure of that run alone (exit 1, not Go's 2), mailed
// like any other failure.
func (e *env) taskRun(log *slog.Logger) popimap.RunFunc {
	run := e.run
	if run == nil {
		run = popimap.Unattended(clock.Real)
	}
	return popimap.NotifyFailures(scheduler.Recover(run), log)
}

func main() {
	sd := handleShutdown(os.Stderr)
	code := mainWithExit(sd.ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, shutdown: sd})
	sd.release()
	os.Exit(code)
}

func mainWithExit(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return exitCode(e, c.run(ctx, e, args[1:]))
		}
	}
	fmt.Fprintf(e.stderr, "mailtask: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mailtask COMMAND [options]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-9s %-45s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The configuration is --config, else $%s, else ./%s.\n", config.EnvConfig, config.DefaultFile)
	fmt.Fprintln(w, "Exit codes: 0 success, 1 task failed, 2 usage or configuration error, 3 task already running.")
}

// usageError is a bad command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// silentFailure is a failure already reported to the user in full.
var silentFailure = errors.New("failed")

func exitCode(e *env, err error) int {
	if err == nil {
		return exitOK
	}
	var (
		ue     usageError
		ce     *config.Error
		locked *state.LockedError
	)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "mailtask: %v\n", err)
		return exitUsage
	case errors.As(err, &ce):
		fmt.Fprintf(e.stderr, "mailtask: invalid configuration:\n%v\n", err)
		return exitUsage
	case errors.As(err, &locked):
		fmt.Fprintf(e.stderr, "mailtask: %v\n", err)
		return exitRunning
	case errors.Is(err, silentFailure):
		return exitFailed
	default:
		fmt.Fprintf(e.stderr, "mailtask: %v\n", err)
		return exitFailed
	}
}

// newFlags returns a flag set that reports errors as usage errors rather
// than exiting.
func newFlags(e *env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: mailtask %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// loadConfig loads the configuration for a command that runs tasks or
// touches their state, which cluster mode cannot do yet (db.go).
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(config.Find(path))
	if err != nil {
		return nil, err
	}
	if err := refuseClusterMode(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}
