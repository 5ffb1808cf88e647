package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// S3Requests are the requests an S3 server served, as its request log
// shows them: by method and status ("PUT 200"), and apart from those
// the requests for the object of the create-only probe
// (objsink.ProbeName), which a destination makes once per process, not
// per file.
type S3Requests struct {
	ByKind map[string]int
	Probe  int
}

// Objects is how many objects the requests stored in one PUT each.
func (r S3Requests) Objects() int { return r.ByKind["PUT 200"] }

// PerObject lists the requests of each kind per object stored, kinds in
// order, as "PUT 200 1.000".
func (r S3Requests) PerObject() string {
	kinds := make([]string, 0, len(r.ByKind))
	for k := range r.ByKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %.3f", k, float64(r.ByKind[k])/float64(max(1, r.Objects()))))
	}
	return strings.Join(parts, ", ")
}

// ReadS3Requests counts the requests of versitygw's request log at path
// from offset on (versitygw.Server.RequestLog; its lines are "time |
// vgw | status | latency | client | method | path | error | query"),
// those for keys ending in probe (objsink.ProbeName, which this package
// cannot import: objsink's benchmarks import it) apart, and returns the
// offset it read to. Lines of another shape are passed over: the
// server's start, and a line cut short and run into the next, as the log
// of one benchmark run showed (why, is not known), which would otherwise
// count as a request of a method like "PUT00:10:30".
func ReadS3Requests(path string, offset int64, probe string) (S3Requests, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return S3Requests{}, offset, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return S3Requests{}, offset, err
	}
	reqs := S3Requests{ByKind: map[string]int{}}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			// A line not ended yet is read next time.
			return reqs, offset, nil
		}
		if err != nil {
			return reqs, offset, err
		}
		offset += int64(len(line))
		fields := strings.Split(strings.TrimSuffix(line, "\n"), " | ")
		if len(fields) != 9 || fields[1] != "vgw" || !slices.Contains(methods, fields[5]) || !isStatus(fields[2]) {
			continue
		}
		status, method, target := fields[2], fields[5], fields[6]
		if strings.HasSuffix(target, "/"+probe) {
			reqs.Probe++
			continue
		}
		reqs.ByKind[method+" "+status]++
	}
}

// methods are the HTTP methods of S3's API.
var methods = []string{"GET", "HEAD", "PUT", "POST", "DELETE"}

// isStatus reports whether s is an HTTP status code.
func isStatus(s string) bool {
	return len(s) == 3 && strings.Trim(s, "0123456789") == ""
}

// LogSize is the size of the file at path, where ReadS3Requests starts
// to read what follows.
func LogSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// DatabaseTransactions returns how many transactions the database of
// dbURL has committed and rolled back, by pg_stat_database, once no
// session is connected to it any more (a backend reports its counts as
// it exits). It asks through adminURL, a connection to another database
// of the same server, so that the asking is not counted.
func DatabaseTransactions(ctx context.Context, adminURL, dbURL string) (int64, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return 0, err
	}
	name := strings.TrimPrefix(u.Path, "/")
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	for {
		var sessions int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name).Scan(&sessions); err != nil {
			return 0, err
		}
		if sessions == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%d sessions of database %s still open: %w", sessions, name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	var n int64
	err = conn.QueryRow(ctx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1", name).Scan(&n)
	return n, err
}
