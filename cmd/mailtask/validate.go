package main

import (
	"context"
	"flag"
	"fmt"
)

func validateFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	return func(_ context.Context, e *env, _ []string) error { return validate(e, *cfgPath) }
}

func validate(e *env, cfgPath string) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: ok (%d accounts, %d tasks)\n", cfg.File, len(cfg.Accounts), len(cfg.Tasks))
	return nil
}
