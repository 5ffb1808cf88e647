package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Transactions returns how many transactions the database at url has
// committed and rolled back, by its statistics (pg_stat_database). A
// statement outside BEGIN is a transaction of its own, so for a node's
// single-statement polls this counts round trips. Backends report their
// counts when they go idle (at most once a second) and when they exit:
// read it once the connections measured have closed (WaitGone).
func Transactions(ctx context.Context, url string) (int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int64
	err = conn.QueryRow(ctx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()").Scan(&n)
	return n, err
}

// WaitGone waits until no session of the database at url has an
// application_name starting with prefix: they have exited and reported
// their statistics.
func WaitGone(ctx context.Context, url, prefix string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for {
		var n int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND starts_with(application_name, $1)", prefix).Scan(&n)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d sessions of %q still open: %w", n, prefix, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
