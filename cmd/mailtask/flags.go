package main

import (
	"flag"
	"fmt"
	"log/slog"
	"strings"
)

// parseInterspersed parses flags wherever they stand, so that both
// "run-task --dry-run invoices" and "run-task invoices --dry-run" work,
// and returns the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := parseFlags(fs, args); err != nil {
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

// logLevel parses --log-level.
func logLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usageError{fmt.Sprintf("--log-level: %q is not one of debug, info, warn, error", s)}
	}
	return l, nil
}

func oneTaskName(cmd string, positional []string, known []string) (string, error) {
	if len(positional) != 1 {
		return "", usageError{fmt.Sprintf("%s needs exactly one task name (tasks: %s)", cmd, strings.Join(known, ", "))}
	}
	return positional[0], nil
}
