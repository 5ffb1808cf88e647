package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// ToolMailtaskCluster is mailtask with its state on PostgreSQL and its
// files on S3 (cluster mode), beside ToolMailtask on the file store.
const ToolMailtaskCluster = "mailtask on PostgreSQL + S3"

// ToolMailtaskClusterSeaweedFS is cluster mode with its files on
// SeaweedFS rather than versitygw.
const ToolMailtaskClusterSeaweedFS = "mailtask on PostgreSQL + S3, S3 on SeaweedFS"

// ToolMailtaskTmpfs and ToolMailtaskClusterTmpfs are the file store and
// cluster mode with their files on a tmpfs (BenchmarkClusterCorpus with
// BENCH_CLUSTER_TMPFS): the destination folder, and the S3 server's
// storage.
const (
	ToolMailtaskTmpfs        = "mailtask, files on tmpfs"
	ToolMailtaskClusterTmpfs = "mailtask on PostgreSQL + S3, S3 on tmpfs"
)

// TargetCluster is the target for cluster mode: the corpus
// within 1.25 times the file store's wall time.
const TargetCluster = 1.25

// ClusterStores are where MailtaskCluster keeps a run's state and files:
// NewDatabase returns the URL of a fresh, migrated database for each run;
// the objects go under a prefix of the run's own in Bucket.
type ClusterStores struct {
	NewDatabase                  func() (string, error)
	Endpoint, Bucket, Region     string
	AccessKeyID, SecretAccessKey string
}

// MailtaskCluster runs `bin run-task` as Mailtask does, with the state in
// a fresh database and the attachments written to
// s3://Bucket/<the run's directory name, lower case>/files.
func MailtaskCluster(bin string, stores ClusterStores) Contestant {
	return Contestant{
		Name: ToolMailtaskCluster,
		Command: func(a Account, protocol, dir string) (*exec.Cmd, error) {
			db, err := stores.NewDatabase()
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(dir, "database"), []byte(db), 0o600); err != nil {
				return nil, err
			}
			prefix := strings.Map(func(r rune) rune {
				if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
					return r
				}
				return '-'
			}, strings.ToLower(filepath.Base(dir)))
			top := fmt.Sprintf(`state_store_env = "MAILTASK_BENCH_DB"
s3_endpoint = %q
s3_region = %q
s3_access_key_id_env = "MAILTASK_BENCH_S3_ID"
s3_secret_access_key_env = "MAILTASK_BENCH_S3_SECRET"`, stores.Endpoint, stores.Region)
			cmd, err := runTask(bin, a, protocol, dir, top, fmt.Sprintf("s3://%s/%s/files", stores.Bucket, prefix))
			if err != nil {
				return nil, err
			}
			cmd.Env = append(cmd.Env, "MAILTASK_BENCH_DB="+db, "MAILTASK_BENCH_S3_ID="+stores.AccessKeyID, "MAILTASK_BENCH_S3_SECRET="+stores.SecretAccessKey)
			return cmd, nil
		},
		// The ledger holds one fingerprint per message taken.
		Check: func(dir string) (int, error) {
			db, err := os.ReadFile(filepath.Join(dir, "database"))
			if err != nil {
				return 0, err
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			conn, err := pgx.Connect(ctx, string(db))
			if err != nil {
				return 0, err
			}
			defer conn.Close(context.Background())
			var n int
			err = conn.QueryRow(ctx, "SELECT count(*) FROM ledger WHERE task = 'bench'").Scan(&n)
			return n, err
		},
	}
}
