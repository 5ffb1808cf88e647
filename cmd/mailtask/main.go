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
	"strings"

	"mailtask/internal/clock"
	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/pgstore"
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

// command is one subcommand. Its flags, declared once in flags, make its
// --help, its line in `mailtask --help` and its usage errors.
type command struct {
	name     string // "run-task", or a verb under a noun: "state show"
	operands string // what follows the flags, for the synopsis: "TASK", "[ACCOUNT]", or ""
	summary  string
	// flags declares the command's flags on fs and returns what runs the
	// command once they are parsed.
	flags func(fs *flag.FlagSet) runFunc
}

// runFunc runs a command with its operands, its flags already parsed.
type runFunc func(ctx context.Context, e *env, operands []string) error

var commands = []command{
	{"run-task", "TASK", "run one task once, now", runTaskFlags},
	{"validate", "", "check the configuration without connecting", validateFlags},
	{"state show", "TASK", "print what a task remembers", stateFlags(stateShow)},
	{"state reset", "TASK", "forget what a task has taken", stateFlags(stateReset)},
	{"state retry", "TASK [KEY...]", "take again the messages a task kept aside as failed", stateRetryFlags},
	{"state export", "TASK", "copy a task's state from cluster mode's database into state_dir", stateMoveFlags("export", stateExport)},
	{"state import", "TASK", "move a task's state from state_dir into cluster mode's database", stateMoveFlags("import", stateImport)},
	{"check", "TASK", "connect, sign in and select as a run would, step by step", checkFlags},
	{"auth login", "ACCOUNT", "sign an OAuth2 account in once and store its tokens", authLoginFlags},
	{"auth status", "[ACCOUNT]", "show the OAuth2 accounts' tokens and what expires when", authStatusFlags},
	{"auth logout", "ACCOUNT", "remove an OAuth2 account's stored tokens", authLogoutFlags},
	{"notify test", "", "send a test mail through [notify]", notifyFlags(notifyTest)},
	{"notify digest", "", "send the digest of every task's last run through [notify]", notifyFlags(notifyDigest)},
	{"demo", "", "run a task against a built-in test server, twice", demoFlags},
	{"run", "", "the daemon: run every task on its schedule until stopped", runDaemonFlags},
	{"reload", "", "have the daemon read its configuration again, as SIGHUP does", reloadFlags},
	{"status", "[TASK...]", "show each task's last run, last success and next run", statusFlags},
	{"db migrate", "", "create or upgrade cluster mode's database schema", dbMigrateFlags},
	{"db reseal-tokens", "", "seal every stored OAuth2 token with the current token key, to retire the previous one", dbResealFlags},
	{"version", "", "print which mailtask this is", versionFlags},
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

// endProfile ends the CPU profile of a binary built with -tags cpuprofile
// (cpuprofile.go) before main exits.
var endProfile = func() {}

func main() {
	sd := handleShutdown(os.Stderr)
	code := mainWithExit(sd.ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, shutdown: sd})
	sd.release()
	endProfile()
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
	if list := commandList(args[0]); list != "" && len(args) == 2 && (args[1] == "--help" || args[1] == "-h") {
		fmt.Fprint(e.stdout, list) // `mailtask state --help`: its verbs
		return exitOK
	}
	c, args, err := findCommand(args)
	if err != nil {
		return exitCode(e, err)
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	run := c.flags(fs)
	operands, err := parseCommand(e, c, fs, args)
	if err == nil {
		err = run(ctx, e, operands)
	}
	return exitCode(e, err)
}

// findCommand returns the command args name and the arguments after its
// name.
func findCommand(args []string) (command, []string, error) {
	if strings.HasPrefix(args[0], "-") {
		return command{}, nil, usageError{optionsFirst(args)}
	}
	var verbs []string // of the noun args[0], if it is one
	for _, c := range commands {
		noun, verb, _ := strings.Cut(c.name, " ")
		switch {
		case noun != args[0]:
		case verb == "":
			return c, args[1:], nil
		case len(args) > 1 && args[1] == verb:
			return c, args[2:], nil
		default:
			verbs = append(verbs, verb)
		}
	}
	if verbs == nil {
		return command{}, nil, usageError{fmt.Sprintf("unknown command %q\n\n%s", args[0], commandList())}
	}
	return command{}, nil, usageError{fmt.Sprintf("%s needs one of: %s\n\n%s", args[0], strings.Join(verbs, ", "), commandList(args[0]))}
}

// optionsFirst explains that a command's options follow its name, with
// the command line put in that order when it names a command, as in
// `mailtask --config /etc/mailtask.toml status`.
func optionsFirst(args []string) string {
	for i, a := range args {
		if strings.HasPrefix(a, "-") {
			continue
		}
		if c, rest, err := findCommand(args[i:]); err == nil {
			line := append(append(strings.Fields(c.name), args[:i]...), rest...)
			return fmt.Sprintf("options follow the command's name: mailtask %s", shellWords(line))
		}
	}
	return fmt.Sprintf("unknown command %q: options follow the command's name\n\n%s", args[0], commandList())
}

// shellWords joins words for a command line to copy, quoting those a
// shell would split or expand.
func shellWords(words []string) string {
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = w
		if w == "" || strings.ContainsFunc(w, func(r rune) bool { return !strings.ContainsRune(shellSafe, r) }) {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
	}
	return strings.Join(quoted, " ")
}

const shellSafe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,"

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: mailtask COMMAND [options]")
	fmt.Fprintln(w)
	fmt.Fprint(w, commandList())
	fmt.Fprintln(w)
	fmt.Fprintf(w, "The configuration is --config, else $%s, else ./%s.\n", config.EnvConfig, config.DefaultFile)
	fmt.Fprintln(w, "mailtask COMMAND --help says more about a command.")
	fmt.Fprintln(w, "Exit codes: 0 success, 1 task failed, 2 usage or configuration error, 3 task already running.")
}

// commandList is each command's synopsis and summary, of the commands
// under noun when one is given.
func commandList(noun ...string) string {
	var b strings.Builder
	for _, c := range commands {
		if len(noun) > 0 && !strings.HasPrefix(c.name, noun[0]+" ") {
			continue
		}
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.flags(fs)
		fmt.Fprintf(&b, "  mailtask %s\n      %s\n", synopsis(c, fs), c.summary)
	}
	return b.String()
}

// usageError is a bad command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errReported is a failure already reported to the user in full.
var errReported = errors.New("failed")

func exitCode(e *env, err error) int {
	if err == nil {
		return exitOK
	}
	var (
		ue     usageError
		ce     *config.Error
		locked *state.LockedError
		held   *pgstore.HeldError
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
	case errors.As(err, &locked), errors.As(err, &held):
		fmt.Fprintf(e.stderr, "mailtask: %v\n", err)
		return exitRunning
	case errors.Is(err, errReported):
		return exitFailed
	default:
		fmt.Fprintf(e.stderr, "mailtask: %v\n", err)
		// A command that fails before any run (the cluster's database
		// unreachable, say) gets the advice a run's failure would.
		if hint := diagnose.Hint(err); hint != "" {
			fmt.Fprintf(e.stderr, "hint: %s\n", hint)
		}
		return exitFailed
	}
}

// loadConfig loads the configuration at path, or the one config.Find
// finds.
func loadConfig(path string) (*config.Config, error) {
	return config.Load(config.Find(path))
}
