package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one step of the schema, applied in one transaction.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations are the embedded steps, numbered 1, 2, ... without gaps:
// migrations/NNNN_name.sql.
var migrations = mustLoadMigrations()

// SchemaVersion is the schema this mailtask needs: its newest migration.
var SchemaVersion = migrations[len(migrations)-1].version

func mustLoadMigrations() []migration {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		panic(err)
	}
	var ms []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("pgstore: migration " + e.Name() + " is not named NNNN_name.sql")
		}
		data, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(data)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			panic(fmt.Sprintf("pgstore: migration %d is missing (found %d)", i+1, m.version))
		}
	}
	return ms
}

// SchemaError is a database whose schema is not the one this mailtask
// needs.
type SchemaError struct {
	Have, Want int // Have is 0 for a database mailtask never migrated
}

func (e *SchemaError) Error() string {
	switch {
	case e.Have == 0:
		return "the database has no mailtask schema yet: run `mailtask db migrate` (once, from any node)"
	case e.Have < e.Want:
		return fmt.Sprintf("the database's mailtask schema is at version %d, this mailtask needs %d: run `mailtask db migrate` (once, from any node)", e.Have, e.Want)
	default:
		return fmt.Sprintf("the database's mailtask schema is at version %d, newer than this mailtask knows (%d): a newer mailtask migrated it; run that version on every node", e.Have, e.Want)
	}
}

// schemaLock is the advisory lock that keeps two nodes from migrating at
// once.
const schemaLock = 0x6d61696c7461736b // "mailtask"

// querier is what schemaVersion needs of a connection or a pool.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersion returns the version the database's schema is at, 0 if
// mailtask never migrated it.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('mailtask_schema') IS NOT NULL").Scan(&exists); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM mailtask_schema").Scan(&v); err != nil {
		return 0, fmt.Errorf("read the schema version: %w", err)
	}
	return v, nil
}

// checkSchema fails unless the schema is exactly SchemaVersion.
func checkSchema(ctx context.Context, q querier) error {
	v, err := schemaVersion(ctx, q)
	if err != nil {
		return err
	}
	if v != SchemaVersion {
		return &SchemaError{Have: v, Want: SchemaVersion}
	}
	return nil
}

// Migrated is what Migrate did.
type Migrated struct {
	From, To int // schema versions before and after
	// Applied names the migrations applied, oldest first
	// ("0013_last_notice"), for the operator to see what changed.
	Applied []string
}

// Migrate brings the schema of the database at url up to SchemaVersion,
// each migration in a transaction of its own that first takes an
// advisory lock, so that nodes migrating at once take turns and each
// applies only what the one before it left undone. The lock is the
// transaction's, not the session's: through a connection pooler in
// transaction mode a session's lock would stay behind on whichever
// server connection took it. A schema newer than this mailtask knows is a
// *SchemaError and is left alone.
func Migrate(ctx context.Context, url string) (Migrated, error) {
	conn, err := connect(ctx, url, "mailtask db migrate")
	if err != nil {
		return Migrated{}, err
	}
	defer conn.Close(context.Background())
	var done Migrated
	for first := true; ; first = false {
		var next *migration
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// One round trip, without arguments: the simple protocol,
			// which takes several statements.
			if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL idle_in_transaction_session_timeout = '%s';
				SELECT pg_advisory_xact_lock(%d);
				CREATE TABLE IF NOT EXISTS mailtask_schema (
					version    integer PRIMARY KEY,
					name       text NOT NULL,
					applied_at timestamptz NOT NULL DEFAULT now())`, idleInTransaction, schemaLock)); err != nil {
				return fmt.Errorf("migrate: take the schema lock: %w", err)
			}
			v, err := schemaVersion(ctx, tx)
			if err != nil {
				return err
			}
			if first {
				done = Migrated{From: v, To: v}
			}
			if v > SchemaVersion {
				return &SchemaError{Have: v, Want: SchemaVersion}
			}
			if v == SchemaVersion {
				return nil
			}
			next = &migrations[v]
			if _, err := tx.Exec(ctx, next.sql); err != nil {
				return fmt.Errorf("migrate to schema version %d (%s): %w", next.version, next.name, err)
			}
			_, err = tx.Exec(ctx, "INSERT INTO mailtask_schema (version, name) VALUES ($1, $2)", next.version, next.name)
			return err
		})
		if err != nil {
			return done, err
		}
		if next == nil {
			return done, nil
		}
		done.To = next.version
		done.Applied = append(done.Applied, fmt.Sprintf("%04d_%s", next.version, next.name))
	}
}

// errNoURL is Open's and Migrate's error for an empty URL.
var errNoURL = errors.New("no database URL")
