package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"mailtask/internal/state"
)

func stateCmd(_ context.Context, e *env, args []string) error {
	if len(args) == 0 || (args[0] != "show" && args[0] != "reset") {
		return usageError{"usage: mailtask state show|reset [--config F] TASK"}
	}
	verb := args[0]
	fs := newFlags(e, "state "+verb, "[--config F] TASK")
	cfgPath := fs.String("config", "", "configuration file")
	positional, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	name, err := oneTaskName("state "+verb, positional, cfg.TaskNames())
	if err != nil {
		return err
	}
	if cfg.Task(name) == nil {
		return usageError{fmt.Sprintf("no task %q in %s (tasks: %s)", name, cfg.File, strings.Join(cfg.TaskNames(), ", "))}
	}
	if verb == "reset" {
		if err := state.Reset(cfg.StateDir, name); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: state forgotten; the next run takes every message again (files already in the destination are not written twice)\n", name)
		return nil
	}
	st, err := state.Load(cfg.StateDir, name)
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s\n", out)
	return nil
}

func isLocked(err error) bool {
	var locked *state.LockedError
	return errors.As(err, &locked)
}
