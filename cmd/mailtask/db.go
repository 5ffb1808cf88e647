package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/pgstore"
)

// migrateTimeout bounds `mailtask db migrate`, waiting for another node's
// migration included.
const migrateTimeout = 10 * time.Minute

func dbMigrateFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	return func(ctx context.Context, e *env, _ []string) error { return dbMigrate(ctx, e, *cfgPath) }
}

// dbMigrate is `mailtask db migrate`: it brings the cluster-mode
// database's schema up to the version this mailtask needs.
func dbMigrate(ctx context.Context, e *env, cfgPath string) error {
	cfg, err := config.Load(config.Find(cfgPath))
	if err != nil {
		return err
	}
	if !cfg.SharedState() {
		return usageError{fmt.Sprintf("%s sets no state_store: the file store under state_dir needs no migration (db migrate is for cluster mode's PostgreSQL)", cfg.File)}
	}
	url, err := cfg.StateStoreURL()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	done, err := pgstore.Migrate(ctx, url.Reveal())
	if err != nil {
		// Migrate's connection errors name the URL already.
		return fmt.Errorf("%s: %w", cfg.File, err)
	}
	if done.From == done.To {
		fmt.Fprintf(e.stdout, "%s: schema already at version %d\n", pgstore.Redact(url.Reveal()), done.To)
		return nil
	}
	fmt.Fprintf(e.stdout, "%s: schema migrated from version %d to %d (%s)\n", pgstore.Redact(url.Reveal()), done.From, done.To, strings.Join(done.Applied, ", "))
	return nil
}

func dbResealFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	return func(ctx context.Context, e *env, _ []string) error { return dbReseal(ctx, e, *cfgPath) }
}

// dbReseal is `mailtask db reseal-tokens`: it seals every stored OAuth2
// token with the current token key, so that the previous one can be
// dropped. Nodes may run meanwhile: each row is locked as a refresh
// locks it.
func dbReseal(ctx context.Context, e *env, cfgPath string) error {
	cfg, err := config.Load(config.Find(cfgPath))
	if err != nil {
		return err
	}
	switch {
	case !cfg.SharedState():
		return usageError{fmt.Sprintf("%s sets no state_store: the file store keeps tokens in state_dir, not sealed with a token key (db reseal-tokens is for cluster mode's PostgreSQL)", cfg.File)}
	case cfg.TokenKeySetting() == "":
		return usageError{fmt.Sprintf("%s sets no token_key_env or token_key_file: give the key to seal the tokens with (and the one being retired as token_key_previous_env or _file)", cfg.File)}
	}
	node, err := openNode(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeNode(node)
	store := node.Store()
	r, err := store.ResealTokens(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.File, err)
	}
	current, previous := store.TokenKeyIDs()
	fmt.Fprintf(e.stdout, "token key %s (%s): %d tokens sealed anew with it, %d already were\n", current, cfg.TokenKeySetting(), r.Resealed, r.Current)
	for _, what := range r.Cleared {
		fmt.Fprintf(e.stdout, "cleared %s: it opened with no key of this node, and is only a cache; the nodes fetch a new one\n", what)
	}
	if r.Unreadable != nil {
		accounts := make([]string, len(r.Unreadable))
		for i, u := range r.Unreadable {
			fmt.Fprintf(e.stdout, "cannot open %v\n", u.Err)
			accounts[i] = u.Account
		}
		fmt.Fprintf(e.stdout, "%d accounts need `mailtask auth login ACCOUNT` (or the key they were sealed with, as token_key_previous_env or _file): %s\n", len(accounts), strings.Join(accounts, ", "))
		return errReported
	}
	if previous != "" {
		fmt.Fprintf(e.stdout, "no token needs the previous key %s (%s) any more: once every node runs with key %s, drop it from their configuration and restart them\n", previous, cfg.TokenKeyPreviousSetting(), current)
	}
	return nil
}
