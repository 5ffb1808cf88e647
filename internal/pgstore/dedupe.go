package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// DedupeIndex is the object sink's index of content by SHA-256 under one
// destination (a bucket and prefix), so that dedupe need not list the
// bucket. It satisfies the index interface of the object sink.
type DedupeIndex struct {
	store       *Store
	destination string
}

// DedupeIndex returns the index of destination, as the object sink names
// it (s3://bucket/prefix).
func (s *Store) DedupeIndex(destination string) *DedupeIndex {
	return &DedupeIndex{store: s, destination: destination}
}

// Lookup returns the key recorded for content of sum, "" if none.
func (d *DedupeIndex) Lookup(ctx context.Context, sum [32]byte) (string, error) {
	var key string
	err := d.store.pool.QueryRow(ctx, "SELECT key FROM dedupe WHERE destination = $1 AND sha256 = $2", d.destination, sum[:]).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("dedupe index of %s: %w", d.destination, err)
	}
	return key, nil
}

// Record notes that key holds content of sum. The first key recorded for
// a content stays.
func (d *DedupeIndex) Record(ctx context.Context, sum [32]byte, key string) error {
	_, err := d.store.pool.Exec(ctx, "INSERT INTO dedupe (destination, sha256, key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", d.destination, sum[:], key)
	if err != nil {
		return fmt.Errorf("dedupe index of %s: %w", d.destination, err)
	}
	return nil
}

// Forget drops the entry of sum if it still names key: the object is gone
// or no longer holds that content.
func (d *DedupeIndex) Forget(ctx context.Context, sum [32]byte, key string) error {
	_, err := d.store.pool.Exec(ctx, "DELETE FROM dedupe WHERE destination = $1 AND sha256 = $2 AND key = $3", d.destination, sum[:], key)
	if err != nil {
		return fmt.Errorf("dedupe index of %s: %w", d.destination, err)
	}
	return nil
}
