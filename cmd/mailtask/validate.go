package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"time"

	"mailtask/internal/auth"
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
	certWarnings, err := checkCertificates(cfg, time.Now())
	if err != nil {
		return err
	}
	warnings = append(warnings, certWarnings...)
	keyWarnings, err := checkServiceAccountKeys(cfg)
	if err != nil {
		return err
	}
	warnings = append(warnings, keyWarnings...)
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

// checkCertificates reads the client certificates where they are, and
// refuses one that Entra would refuse or that is outside its dates. A
// file that is not there is a warning: validate may run where the
// certificates are not (a build machine, before a Secret is mounted).
func checkCertificates(cfg *config.Config, now time.Time) ([]string, error) {
	var warnings []string
	for _, name := range slices.Sorted(maps.Keys(cfg.Accounts)) {
		a := cfg.Accounts[name]
		if a.OAuth2 == nil || !a.OAuth2.HasClientCertificate() {
			continue
		}
		c, err := auth.LoadClientCertificate(a)
		if errors.Is(err, fs.ErrNotExist) {
			warnings = append(warnings, err.Error()+" (not here: the machine that runs the account needs it)")
			continue
		}
		if err == nil {
			err = c.UsableAt(a, now)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.DefinedIn(a.File), err)
		}
		if w := c.ExpiryWarning(a, now); w != "" {
			warnings = append(warnings, w)
		}
	}
	return warnings, nil
}

// checkServiceAccountKeys reads the service accounts' key files where
// they are, once per file (thousands of accounts may share one), and
// refuses one that is not a usable key; a file that is not there is a
// warning, as for certificates.
func checkServiceAccountKeys(cfg *config.Config) ([]string, error) {
	var warnings []string
	read := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(cfg.Accounts)) {
		a := cfg.Accounts[name]
		if a.OAuth2 == nil || a.OAuth2.ServiceAccountKeyFile == "" || read[a.OAuth2.ServiceAccountKeyFile] {
			continue
		}
		read[a.OAuth2.ServiceAccountKeyFile] = true
		_, err := auth.LoadServiceAccountKey(a)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			warnings = append(warnings, err.Error()+" (not here: the machine that runs the account needs it)")
		case err != nil:
			return nil, fmt.Errorf("%s: %w", cfg.DefinedIn(a.File), err)
		}
	}
	return warnings, nil
}
