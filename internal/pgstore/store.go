package pgstore

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is an open connection pool to the cluster's database, on behalf
// of one node. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	node string
	seal *sealer // nil without a token key
}

// Options are what Open needs besides the context.
type Options struct {
	// URL is the database's, postgres://user:password@host:port/db?...
	URL string
	// Node names this process in leases, run history and the
	// connections' application_name; "" means host name and PID.
	Node string
	// TokenKey seals the OAuth2 tokens: 32 bytes (config's
	// ResolveTokenKey). Without it the token operations fail.
	TokenKey []byte
	// TokenKeySetting is how the configuration named the key
	// (`token_key_env MAILTASK_TOKEN_KEY`), for errors.
	TokenKeySetting string
	// PreviousTokenKey, during a rotation, opens the tokens sealed
	// before it; they are sealed anew with TokenKey when next written,
	// or by ResealTokens. PreviousTokenKeySetting names it.
	PreviousTokenKey        []byte
	PreviousTokenKeySetting string
	// MaxConns bounds the pool; 0 means DefaultMaxConns.
	MaxConns int32
	// Announce, for a node (`mailtask run`) rather than a command, is
	// what Open records of it in the nodes table, as started now: also
	// when the schema is newer than this mailtask knows, which Open
	// refuses, so that the node shows as too old.
	Announce *Announcement
}

// DefaultMaxConns is the pool size of a node when Options leave it open:
// commits, renewals and token refreshes each hold a connection briefly.
const DefaultMaxConns = 8

// idleInTransaction bounds how long a transaction of several round trips
// (a migration) may sit idle before the server ends it: a node paused
// mid-transaction would otherwise hold its locks until it resumed. Token
// refreshes, which wait on the identity platform inside a transaction,
// bound it longer (tokens.go). The batches of everything else are one
// round trip each, their transaction never idle between statements.
const idleInTransaction = "30s"

// Open connects to the database and checks that its schema is the one
// this mailtask needs (a *SchemaError otherwise). Errors never show the
// URL's password.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.URL == "" {
		return nil, errNoURL
	}
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("state_store: %s", redactParseError(err))
	}
	node := o.Node
	if node == "" {
		node = defaultNode()
	}
	cfg.MaxConns = DefaultMaxConns
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	configure(cfg.ConnConfig, o.URL, "mailtask "+node)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", Redact(o.URL), err)
	}
	if err := checkSchema(ctx, pool); err != nil {
		if o.Announce != nil {
			announceRefused(ctx, pool, node, *o.Announce, err)
		}
		pool.Close()
		return nil, fmt.Errorf("%s: %w", Redact(o.URL), err)
	}
	s := &Store{pool: pool, node: node}
	if o.TokenKey != nil {
		if s.seal, err = newSealer(o); err != nil {
			pool.Close()
			return nil, err
		}
	}
	if o.Announce != nil {
		if err := announce(ctx, pool, node, *o.Announce, true); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes every connection.
func (s *Store) Close() { s.pool.Close() }

// Node is the name this store's leases and runs carry.
func (s *Store) Node() string { return s.node }

func defaultNode() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	return host + ":" + strconv.Itoa(os.Getpid())
}

// configure names the node's connections, which is how an administrator
// (or a chaos test) finds them in pg_stat_activity, and makes them fit to
// go through a connection pooler (PgBouncer, a managed database's pooled
// port) as well as straight to PostgreSQL:
//   - no startup parameter but application_name, which poolers pass on;
//     PgBouncer refuses a connection that sets any other ("unsupported
//     startup parameter"), so settings are made in the transaction that
//     needs them (SET LOCAL);
//   - unnamed statements (QueryExecModeCacheDescribe) unless the URL
//     chooses (default_query_exec_mode): a pooler in transaction mode
//     hands each transaction whichever server connection is free, where
//     the named statements pgx prepares by default are missing or already
//     taken by another client. Their descriptions are still cached, so a
//     statement is one round trip as before; the server plans it anew
//     each time, which costs little for statements this small.
func configure(c *pgx.ConnConfig, rawURL, app string) {
	if len(app) > 63 { // NAMEDATALEN - 1
		app = app[:63]
	}
	c.RuntimeParams["application_name"] = app
	if u, err := url.Parse(rawURL); err != nil || !u.Query().Has("default_query_exec_mode") {
		c.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
}

// connect opens a single connection, for Migrate.
func connect(ctx context.Context, rawURL, app string) (*pgx.Conn, error) {
	if rawURL == "" {
		return nil, errNoURL
	}
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("state_store: %s", redactParseError(err))
	}
	configure(cfg, rawURL, app)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", Redact(rawURL), err)
	}
	return conn, nil
}

// Redact returns a database URL fit for logs and errors: its password
// replaced, and the whole of it hidden if it does not parse.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return "the database URL"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// redactParseError keeps a URL that does not parse out of the message:
// pgx quotes the input, password and all.
func redactParseError(error) string {
	return "the database URL does not parse; it should look like postgres://USER:PASSWORD@HOST:5432/DATABASE"
}
