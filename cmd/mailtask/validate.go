package main

import (
	"context"
	"fmt"

	"mailtask/internal/config"
)

func validate(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "validate", "[--config F]")
	cfgPath := fs.String("config", "", "configuration file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// Cluster mode's keys are validated, though tasks cannot run with
	// them yet (loadConfig).
	cfg, err := config.Load(config.Find(*cfgPath))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: ok (%d accounts, %d tasks)\n", cfg.File, len(cfg.Accounts), len(cfg.Tasks))
	return nil
}
