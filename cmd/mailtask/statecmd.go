package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"mailtask/internal/config"
	"mailtask/internal/notify"
	"mailtask/internal/state"
)

// stateFlags declares the flags of `state show` and `state reset`, which
// act on the state of one task.
func stateFlags(act func(e *env, cfg *config.Config, task string) error) func(fs *flag.FlagSet) runFunc {
	return func(fs *flag.FlagSet) runFunc {
		cfgPath := configFlag(fs)
		return func(_ context.Context, e *env, positional []string) error {
			cfg, err := loadConfig(*cfgPath)
			if err != nil {
				return err
			}
			task, err := oneTask(fs.Name(), cfg, positional)
			if err != nil {
				return err
			}
			return act(e, cfg, task.Name)
		}
	}
}

func stateReset(e *env, cfg *config.Config, name string) error {
	if err := state.Reset(cfg.StateDir, name); err != nil {
		return err
	}
	if err := notify.ForgetAlert(cfg, name); err != nil {
		return fmt.Errorf("reset task %q: %w", name, err)
	}
	fmt.Fprintf(e.stdout, "%s: state forgotten; the next run takes every message again (files already in the destination are not written twice)\n", name)
	return nil
}

func stateShow(e *env, cfg *config.Config, name string) error {
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
