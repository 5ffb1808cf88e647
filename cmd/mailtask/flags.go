package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"mailtask/internal/config"
)

// configFlag declares --config, which every command that reads the
// configuration takes.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", fmt.Sprintf("the configuration `FILE` (default: $%s, else ./%s)", config.EnvConfig, config.DefaultFile))
}

// logLevelFlag declares --log-level; def "" leaves the level to the
// configuration's log_level.
func logLevelFlag(fs *flag.FlagSet, def string) *string {
	usage := "`LEVEL` of detail logged: debug, info, warn or error"
	if def == "" {
		usage += " (default: the configuration's log_level)"
	}
	return fs.String("log-level", def, usage)
}

// parseCommand parses c's flags, wherever they stand among args (both
// "run-task --dry-run invoices" and "run-task invoices --dry-run" work),
// and returns the operands. --help prints c's help to stdout and returns
// flag.ErrHelp; a bad flag is a usage error that shows c's synopsis.
func parseCommand(e *env, c command, fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard) // what goes wrong is said once, by exitCode
	fs.Usage = func() {}
	operands, err := parseInterspersed(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printHelp(e.stdout, c, fs)
		return nil, err
	case err != nil:
		return nil, usageError{fmt.Sprintf("%v\nusage: mailtask %s (see --help)", err, synopsis(c, fs))}
	case c.operands == "" && len(operands) > 0:
		return nil, usageError{fmt.Sprintf("%s takes no arguments (got %q)\nusage: mailtask %s", c.name, operands, synopsis(c, fs))}
	}
	return operands, nil
}

// parseInterspersed parses flags wherever they stand and returns the
// positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// synopsis is c's command line as its flags make it:
// "run-task [--config FILE] [--dry-run] [--log-level LEVEL] TASK".
func synopsis(c command, fs *flag.FlagSet) string {
	words := []string{c.name}
	fs.VisitAll(func(f *flag.Flag) {
		words = append(words, "["+flagForm(f)+"]")
	})
	if c.operands != "" {
		words = append(words, c.operands)
	}
	return strings.Join(words, " ")
}

// flagForm is "--name" or "--name VALUE", VALUE being the back-quoted word
// of the flag's usage (flag.UnquoteUsage).
func flagForm(f *flag.Flag) string {
	value, _ := flag.UnquoteUsage(f)
	if value == "" {
		return "--" + f.Name
	}
	return "--" + f.Name + " " + value
}

// printHelp is `mailtask COMMAND --help`: the synopsis, what the command
// does, and each flag with its meaning and default.
func printHelp(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: mailtask %s\n\n%s\n", synopsis(c, fs), c.summary)
	var forms []string
	width := 0
	fs.VisitAll(func(f *flag.Flag) {
		forms = append(forms, flagForm(f))
		width = max(width, len(forms[len(forms)-1]))
	})
	if len(forms) > 0 {
		fmt.Fprintln(w)
	}
	i := 0
	fs.VisitAll(func(f *flag.Flag) {
		_, usage := flag.UnquoteUsage(f)
		if def := f.DefValue; def != "" && def != "false" && !strings.Contains(usage, "(default") {
			usage += fmt.Sprintf(" (default %s)", def)
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, forms[i], usage)
		i++
	})
}

// logLevel parses --log-level.
func logLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usageError{fmt.Sprintf("--log-level: %q is not one of debug, info, warn, error", s)}
	}
	return l, nil
}

// oneTask returns the task named by the one operand of cmd.
func oneTask(cmd string, cfg *config.Config, operands []string) (*config.Task, error) {
	known := listOrNone(cfg.TaskNames())
	if len(operands) != 1 {
		return nil, usageError{fmt.Sprintf("%s needs exactly one task name (tasks: %s)", cmd, known)}
	}
	task := cfg.Task(operands[0])
	if task == nil {
		return nil, usageError{fmt.Sprintf("no task %q in %s (tasks: %s)", operands[0], cfg.File, known)}
	}
	return task, nil
}
