package main

import (
	"context"
	"flag"
	"fmt"
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
	fmt.Fprintf(e.stdout, "%s: schema migrated from version %d to %d\n", pgstore.Redact(url.Reveal()), done.From, done.To)
	return nil
}
