package main

import (
	"context"
	"flag"
	"fmt"

	"mailtask/internal/config"
	"mailtask/internal/state"
)

func validateFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	return func(_ context.Context, e *env, _ []string) error { return validate(e, *cfgPath) }
}

func validate(e *env, cfgPath string) error {
	cfg, err := config.Load(config.Find(cfgPath))
	if err != nil {
		return err
	}
	if err := state.CheckDir(cfg.StateDir); err != nil {
		return &config.Error{File: cfg.File, Key: "state_dir", Msg: err.Error()}
	}
	warnings := append(cfg.LaxSecrets(), cfg.WritableByOthers()...)
	if cfg.SharedState() {
		keyWarnings, err := cfg.CheckTokenKeys()
		if err != nil {
			return &config.Error{File: cfg.File, Key: "token_key", Msg: err.Error()}
		}
		warnings = append(warnings, keyWarnings...)
	}
	for _, w := range warnings {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	fmt.Fprintf(e.stdout, "%s: ok (%d accounts, %d tasks)\n", cfg.File, len(cfg.Accounts), len(cfg.Tasks))
	if len(cfg.Include) > 0 {
		printFiles(e, cfg)
	}
	return nil
}

// printFiles lists the files an include brought in, with what each
// holds, so that a file a pattern missed (a wrong suffix, a hidden name)
// shows by its absence.
func printFiles(e *env, cfg *config.Config) {
	accounts, tasks := map[string]int{}, map[string]int{}
	for _, a := range cfg.Accounts {
		accounts[a.File]++
	}
	for _, t := range cfg.Tasks {
		tasks[t.File]++
	}
	fmt.Fprintf(e.stdout, "%d files:\n", 1+len(cfg.Included))
	for _, f := range append([]string{cfg.File}, cfg.Included...) {
		fmt.Fprintf(e.stdout, "  %s: accounts %d, tasks %d\n", f, accounts[f], tasks[f])
	}
}
