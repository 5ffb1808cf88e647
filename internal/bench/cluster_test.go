//go:build unix

package bench

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/objsink"
	"mailtask/internal/pgstore"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/child"
	"mailtask/internal/testmail/clusterwatch"
	"mailtask/internal/testmail/postgres"
	"mailtask/internal/testmail/seaweedfs"
	"mailtask/internal/testmail/versitygw"
)

// BenchmarkClusterScale runs BENCH_CLUSTER_NODES (3) `mailtask run`
// nodes on one PostgreSQL with BENCH_CLUSTER_TASKS (10,000) tasks every 5
// minutes, each polling an empty mailbox of an in-process IMAP host (in
// plain text, or over implicit TLS with BENCH_CLUSTER_TLS set), for
// BENCH_CLUSTER_MINUTES (7), and reports, from clusterwatch's lease log
// and the nodes' /metrics:
//
//   - the claims per second while the nodes work off the backlog of a
//     first start, when every task is due at once (the capacity; target
//     10 times the 33 a second 10,000 mailboxes every 5 minutes need);
//   - the delay from due time to claim, p50 and p99, of the claims after
//     that, at the schedule's own pace;
//   - the database's transactions (round trips, for single statements)
//     per poll while nothing is due: pg_stat_database's over a minute of
//     the quiet after the backlog, over the polls the nodes counted
//     (clusterwatch.MetricClaimSeconds).
//
// It also reports what the first runs cost per run: the database's
// transactions and statements (pg_stat_statements), and the CPU time of
// the nodes, of PostgreSQL and of its own process, which serves the
// mailboxes. With BENCH_CLUSTER_PROFILE set to a directory, each node
// writes a CPU profile of its first BENCH_CLUSTER_PROFILE_SECONDS (60)
// there, node-N.pprof (a binary built with -tags cpuprofile).
func BenchmarkClusterScale(b *testing.B) {
	tasks := envInt(b, "BENCH_CLUSTER_TASKS", 10_000)
	nodes := envInt(b, "BENCH_CLUSTER_NODES", 3)
	minutes := envInt(b, "BENCH_CLUSTER_MINUTES", 7)
	profiles := os.Getenv("BENCH_CLUSTER_PROFILE")
	var bin string
	if profiles != "" {
		bin = buildMailtask(b, "cpuprofile")
	} else {
		bin = buildMailtask(b)
	}

	pg := postgres.Start(b)
	setup, cancelSetup := context.WithTimeout(context.Background(), time.Minute)
	defer cancelSetup()
	if err := PreloadStatements(setup, pg.URL("postgres")); err != nil {
		b.Fatal(err)
	}
	pg.Restart(b)
	url := pg.NewDatabase(b)
	if err := EnableStatements(setup, url); err != nil {
		b.Fatal(err)
	}
	gw := versitygw.Start(b)
	bucket := gw.NewBucket(b)
	// With BENCH_CLUSTER_TLS, the mailboxes are reached over implicit TLS,
	// as Microsoft 365's are; else in plain text.
	var hostOpts testmail.IMAPHostOptions
	security := `tls = "none"`
	if os.Getenv("BENCH_CLUSTER_TLS") != "" {
		ca, err := testmail.NewCA()
		if err != nil {
			b.Fatal(err)
		}
		caFile := filepath.Join(b.TempDir(), "ca.pem")
		if err := os.WriteFile(caFile, ca.CertPEM, 0o644); err != nil {
			b.Fatal(err)
		}
		hostOpts.TLS = ca.ServerTLS
		security = fmt.Sprintf("tls = \"implicit\"\nca_file = %q", caFile)
	}
	host, err := testmail.StartIMAPHost(hostOpts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { host.Close() })
	var boxes []string
	for i := range tasks {
		box := fmt.Sprintf("box-%05d", i)
		if err := host.AddUser(box, "pw"); err != nil {
			b.Fatal(err)
		}
		boxes = append(boxes, box)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(minutes+10)*time.Minute)
	defer cancel()
	if _, err := pgstore.Migrate(ctx, url); err != nil {
		b.Fatal(err)
	}
	if err := clusterwatch.InstallClaims(ctx, url); err != nil {
		b.Fatal(err)
	}
	env := append(os.Environ(), "MAILTASK_BENCH_DB="+url, "MAILTASK_BENCH_S3_ID="+gw.AccessKeyID, "MAILTASK_BENCH_S3_SECRET="+gw.SecretAccessKey)

	cost := startCost(b, ctx, url, pg.Dir)
	b.ResetTimer()
	start := time.Now()
	var addrs []string
	for i := range nodes {
		nodeEnv := env
		if profiles != "" {
			nodeEnv = append(slices.Clip(env), fmt.Sprintf("MAILTASK_CPUPROFILE=%s/node-%d.pprof", profiles, i+1),
				"MAILTASK_CPUPROFILE_SECONDS="+cmp.Or(os.Getenv("BENCH_CLUSTER_PROFILE_SECONDS"), "60"))
		}
		addr, pid := startScaleNode(b, bin, nodeEnv, scaleConfig(host.Addr, security, gw, bucket, boxes), i+1)
		addrs = append(addrs, addr)
		cost.addNode(b, pid)
	}
	backlog := waitEveryTaskClaimed(b, ctx, url, tasks)
	waitEveryTaskRan(b, ctx, url, tasks)
	firstRuns := cost.end(b, ctx)
	quiet := measureQuietPolls(b, ctx, url, addrs, backlog.firstClaim.Add(5*time.Minute))
	cost = cost.again(b, ctx)
	churn0 := readChurn(b, ctx, url)
	if rest := time.Duration(minutes)*time.Minute - time.Since(start); rest > 0 {
		time.Sleep(rest) // the schedule's pace is what is measured
	}
	laterRuns, laterCost := cost.runsSince(b, ctx), cost.end(b, ctx)
	churn := readChurn(b, ctx, url)
	entries, err := clusterwatch.Read(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	var later []clusterwatch.Entry // claims after each task's first
	for _, e := range entries {
		if e.Kind == clusterwatch.Claim && e.Epoch > 1 {
			later = append(later, e)
		}
	}
	delays := Delays(clusterwatch.ClaimDelays(later))
	b.StopTimer()

	var out bytes.Buffer
	fmt.Fprintf(&out, "\n## make bench: %d tasks every 5 minutes on %d nodes and one PostgreSQL, %d minutes\n\n", tasks, nodes, minutes)
	fmt.Fprintln(&out, "| measure | value | target |")
	fmt.Fprintln(&out, "|---|--:|---|")
	fmt.Fprintf(&out, "| first start: claims per second working off %d tasks due at once (%.0f s) | %.0f | ≥ %.0f |\n",
		tasks, backlog.took.Seconds(), backlog.perSecond(), 10*float64(tasks)/300)
	fmt.Fprintf(&out, "| at the schedule's pace: claims, delay due → claim p50 / p99 s | %d, %.2f / %.2f | – |\n",
		len(delays), delays.Percentile(0.5).Seconds(), delays.Percentile(0.99).Seconds())
	if quiet.polls > 0 {
		fmt.Fprintf(&out, "| nothing due: database transactions per poll (autovacuum ran %d times meanwhile) | %.2f | – |\n", quiet.maintenance, quiet.perPoll())
		fmt.Fprintf(&out, "| nothing due: statements per poll | %.2f | 1 |\n", float64(quiet.statements.Total().Calls)/quiet.polls)
		fmt.Fprintf(&out, "| nothing due: polls per second, all nodes | %.1f | – |\n", quiet.polls/quiet.took.Seconds())
	} else {
		fmt.Fprintf(&out, "| nothing due: round trips per poll | not measured: %s | – |\n", quiet.why)
	}
	firstRuns.report(&out, "first start, per run of an empty mailbox (its first)", tasks)
	if laterRuns > 0 {
		laterCost.report(&out, "at the schedule's pace, per run of an empty mailbox (not its first)", laterRuns)
		reportChurn(&out, "at the schedule's pace, what the runs did to the tables they write (PostgreSQL's statistics)", churn0, churn, laterRuns)
		reportPacedRuns(b, ctx, &out, url, cost.lastRun, later)
	}
	if quiet.polls > 0 {
		fmt.Fprintf(&out, "\nnothing due: the statements of a minute's polls, all nodes\n\n%s", quiet.statements.Table(quiet.polls, "poll", 110))
	}
	os.Stdout.Write(out.Bytes())
	b.ReportMetric(backlog.perSecond(), "claims/s")
	b.ReportMetric(firstRuns.xactsPerRun(tasks), "xacts/run")
	b.ReportMetric(delays.Percentile(0.99).Seconds(), "p99-claim-delay-s")
	if quiet.polls > 0 {
		b.ReportMetric(quiet.perPoll(), "xacts/noop-poll")
	}
}

// scaleConfig is a node's configuration: a task every 5 minutes per
// mailbox of the IMAP host at addr, reached with the account keys
// security (tls, ca_file). max_concurrent_tasks is what the README's
// sizing gives 3 nodes polling 10,000 mailboxes every 5 minutes.
func scaleConfig(addr, security string, gw *versitygw.Server, bucket string, boxes []string) string {
	host, port, _ := net.SplitHostPort(addr)
	var b strings.Builder
	fmt.Fprintf(&b, `state_dir = "state"
state_store_env = "MAILTASK_BENCH_DB"
s3_endpoint = %q
s3_region = %q
s3_access_key_id_env = "MAILTASK_BENCH_S3_ID"
s3_secret_access_key_env = "MAILTASK_BENCH_S3_SECRET"
max_concurrent_tasks = 48
log_level = "warn"
`, gw.Endpoint, versitygw.Region)
	for _, box := range boxes {
		fmt.Fprintf(&b, "[accounts.%[1]s]\nhost = %[2]q\nport = %[3]s\n%[5]s\nusername = %[1]q\npassword = \"pw\"\n"+
			"[[task]]\nname = %[1]q\naccount = %[1]q\nschedule = \"@every 5m\"\ndestination = \"s3://%[4]s/scale/{task}\"\n",
			box, host, port, bucket, security)
	}
	return b.String()
}

// startScaleNode starts node i in a directory of its own, serving
// /metrics on a port of its own, and returns that address and its PID.
func startScaleNode(b *testing.B, bin string, env []string, config string, i int) (string, int) {
	b.Helper()
	dir := b.TempDir()
	port, err := child.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	path := filepath.Join(dir, "mailtask.toml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf("listen = %q\n%s", addr, config)), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", path)
	cmd.Env, cmd.Dir = env, dir
	cmd.SysProcAttr = child.Attr(nil, syscall.SIGTERM)
	proc, err := child.Start(cmd, filepath.Join(dir, "node.log"), func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}, 5*time.Minute)
	if err != nil {
		b.Fatalf("node %d: %v", i, err)
	}
	b.Cleanup(func() { proc.Stop(syscall.SIGTERM, time.Minute) })
	return addr, cmd.Process.Pid
}

// backlogRun is how the nodes worked off the tasks all due at once.
type backlogRun struct {
	firstClaim time.Time
	took       time.Duration // from the first claim to the last task's first
	tasks      int
}

func (r backlogRun) perSecond() float64 { return float64(r.tasks) / r.took.Seconds() }

// waitEveryTaskClaimed waits until every task has been claimed once.
func waitEveryTaskClaimed(b *testing.B, ctx context.Context, url string, tasks int) backlogRun {
	b.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	for {
		var (
			claimed     int
			first, last *time.Time
		)
		err := conn.QueryRow(ctx, `SELECT count(*), min(at), max(at) FROM lease_log WHERE kind = 'claim' AND epoch = 1`).Scan(&claimed, &first, &last)
		if err != nil {
			b.Fatal(err)
		}
		if claimed == tasks {
			return backlogRun{firstClaim: *first, took: last.Sub(*first), tasks: tasks}
		}
		select {
		case <-ctx.Done():
			b.Fatalf("%d of %d tasks claimed: %v", claimed, tasks, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// quietPolls is what the nodes' polls cost while nothing was due.
type quietPolls struct {
	xacts, polls float64
	statements   Statements
	// maintenance is how many times autovacuum vacuumed or analysed a
	// table meanwhile: transactions of the database, not of the nodes.
	maintenance int64
	took        time.Duration
	why         string // when not measured
}

func (q quietPolls) perPoll() float64 { return q.xacts / q.polls }

// measureQuietPolls counts, over a minute before the tasks come due
// again at dueAgain, the database's transactions and the nodes' polls.
func measureQuietPolls(b *testing.B, ctx context.Context, url string, nodes []string, dueAgain time.Time) quietPolls {
	b.Helper()
	const window = time.Minute
	// The transactions of the backlog's last runs are all counted by now
	// (statsSettle, in end), so that they do not land in the window.
	if time.Until(dueAgain) < window+5*time.Second {
		return quietPolls{why: "the backlog took too long to leave a quiet minute before the tasks came due again"}
	}
	s0 := readStatements(b, ctx, url)
	m0 := maintenance(b, ctx, url)
	x0, p0 := quietCounts(b, ctx, url, nodes)
	start := time.Now()
	time.Sleep(window)
	x1, p1 := quietCounts(b, ctx, url, nodes)
	return quietPolls{xacts: float64(x1 - x0), polls: p1 - p0, statements: readStatements(b, ctx, url).Since(s0),
		maintenance: maintenance(b, ctx, url) - m0, took: time.Since(start)}
}

// maintenance returns how many times autovacuum has vacuumed or analysed
// the tables of the database at url.
func maintenance(b *testing.B, ctx context.Context, url string) int64 {
	b.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int64
	if err := conn.QueryRow(ctx, "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0)::bigint FROM pg_stat_user_tables").Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

func quietCounts(b *testing.B, ctx context.Context, url string, nodes []string) (int64, float64) {
	b.Helper()
	xacts, err := Transactions(ctx, url)
	if err != nil {
		b.Fatal(err)
	}
	polls := 0.0
	for _, addr := range nodes {
		m, err := clusterwatch.Scrape(ctx, addr)
		if err != nil {
			b.Fatal(err)
		}
		polls += m.Sum(clusterwatch.MetricClaimSeconds + "_count")
	}
	return xacts, polls
}

// BenchmarkClusterCorpus runs the corpus of BenchmarkCompare (the same
// knobs) through `mailtask run-task` over IMAPS twice over: with the file
// store and a local destination, and in cluster mode, with its state on
// PostgreSQL and its files on S3, each run with a fresh database and
// prefix, on two S3 servers: versitygw, whose posix backend creates a
// file per object, and SeaweedFS, which appends objects to volume
// files. Target: cluster mode within 1.25 times the file store's wall
// time. It reports the CPU time each process spent per run, mailtask,
// Dovecot, the S3 server and PostgreSQL, and what their sum over
// the machine's CPUs alone takes against the file store's time: on two
// cores, the floor the servers set; and that floor once more with
// cluster mode's mailtask at the file store's CPU, which no work on
// mailtask can go under. For each cluster mode it also reports what a
// run asked of the servers: the S3 requests per object stored, by method
// and status, from versitygw's request log (the create-only probe's
// apart; SeaweedFS keeps none), and PostgreSQL's transactions (pg_stat_database's, of the
// run's own database). With BENCH_CLUSTER_PROFILE set to a
// directory, each mailtask run writes a CPU profile there,
// corpus-STORE-RUN.pprof (STORE file, cluster, cluster-seaweedfs,
// file-tmpfs or cluster-tmpfs; a binary built with -tags cpuprofile).
//
// With BENCH_CLUSTER_TMPFS set to a directory on a tmpfs (/dev/shm), both
// run once more in each round with the files out of the disk's way: the
// file store's destination there, and versitygw's storage, through a
// second server; the ratio of that pair is a second line. A disk that is
// dear to create files on (ext4 without a journal, in a VM) costs
// versitygw more than the file store: it creates a file per object and
// holds its metadata in extended attributes.
//
// With BENCH_CLUSTER_AGAINST set to another mailtask binary (main's, say),
// that binary runs in cluster mode too, in each round, on the same
// servers, before or after this tree's by turns (whichever runs later
// finds versitygw's disk busier); a last line gives the median, over the
// rounds, of this tree's mailtask CPU time against that binary's.
func BenchmarkClusterCorpus(b *testing.B) {
	const seed = 20250314
	n := envInt(b, "BENCH_MESSAGES", 1000)
	scale := envFloat(b, "BENCH_SCALE", 0.2)
	runs := envInt(b, "BENCH_RUNS", 3)
	profiles := os.Getenv("BENCH_CLUSTER_PROFILE")
	tmpfs := os.Getenv("BENCH_CLUSTER_TMPFS")
	against := os.Getenv("BENCH_CLUSTER_AGAINST")
	var tags []string
	if profiles != "" {
		tags = append(tags, "cpuprofile")
	}
	bin := buildMailtask(b, tags...)

	a, _, imap := corpusMailbox(b, seed, n, scale)
	pg := postgres.Start(b)
	// Each cluster run gets a fresh, migrated database, made before the
	// runs: PostgreSQL's CPU time is read around each run, and making one
	// (CREATE DATABASE copies the template) cost it more than the run's
	// commits did.
	clusterRuns := 2 * runs // on versitygw and on SeaweedFS
	if tmpfs != "" {
		clusterRuns += runs
	}
	if against != "" {
		clusterRuns += runs
	}
	var databases []string
	// made is what each database had counted of transactions before its
	// run (its migration's); lastDatabase the one handed to the last run.
	made := map[string]int64{}
	var lastDatabase string
	for range clusterRuns {
		url := pg.NewDatabase(b)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := pgstore.Migrate(ctx, url)
		if err == nil {
			made[url], err = DatabaseTransactions(ctx, pg.URL("postgres"), url)
		}
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		databases = append(databases, url)
	}
	newDatabase := func() (string, error) {
		if len(databases) == 0 {
			return "", errors.New("more cluster runs than databases made for them")
		}
		url := databases[0]
		databases = databases[1:]
		lastDatabase = url
		return url, nil
	}
	storesOn := func(gw *versitygw.Server) ClusterStores {
		return ClusterStores{NewDatabase: newDatabase, Endpoint: gw.Endpoint, Bucket: gw.NewBucket(b), Region: versitygw.Region,
			AccessKeyID: gw.AccessKeyID, SecretAccessKey: gw.SecretAccessKey}
	}
	gw := versitygw.Start(b)
	weed := seaweedfs.Start(b)
	onSeaweedFS := MailtaskCluster(bin, ClusterStores{NewDatabase: newDatabase, Endpoint: weed.Endpoint, Bucket: weed.NewBucket(b),
		Region: seaweedfs.Region, AccessKeyID: weed.AccessKeyID, SecretAccessKey: weed.SecretAccessKey})
	onSeaweedFS.Name = ToolMailtaskClusterSeaweedFS
	const protocol = "IMAPS"
	if _, err := once(b, wire(), a, protocol, n); err != nil { // Dovecot indexes the mailbox
		b.Fatalf("warm-up: %v", err)
	}
	postmaster, err := PostmasterPID(filepath.Join(pg.Dir, "data"))
	if err != nil {
		b.Fatal(err)
	}
	// requestLog is the S3 server's request log, where it keeps one
	// (versitygw's); "" where it keeps none (SeaweedFS's).
	type contestant struct {
		Contestant
		s3         interface{ PID() int }
		requestLog string
		profile    string
	}
	contestants := []contestant{
		{Mailtask(bin), gw, gw.RequestLog(), "file"},
		{MailtaskCluster(bin, storesOn(gw)), gw, gw.RequestLog(), "cluster"},
		{onSeaweedFS, weed, "", "cluster-seaweedfs"},
	}
	if tmpfs != "" {
		files, err := os.MkdirTemp(tmpfs, "mailtask-bench-")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { os.RemoveAll(files) })
		onTmpfs := versitygw.StartIn(b, tmpfs)
		cluster := MailtaskCluster(bin, storesOn(onTmpfs))
		cluster.Name = ToolMailtaskClusterTmpfs
		contestants = append(contestants, contestant{MailtaskFilesIn(bin, files), onTmpfs, onTmpfs.RequestLog(), "file-tmpfs"},
			contestant{cluster, onTmpfs, onTmpfs.RequestLog(), "cluster-tmpfs"})
	}
	if against != "" {
		c := MailtaskCluster(against, storesOn(gw))
		c.Name = ToolMailtaskCluster + ", the other binary"
		contestants = append(contestants, contestant{c, gw, gw.RequestLog(), "cluster-against"})
	}
	results := make([]Result, len(contestants))
	for i, c := range contestants {
		results[i] = Result{Protocol: protocol, Tool: c.Name}
	}
	spent := make([][]runCPU, len(contestants))
	// What each cluster run asked of the servers: the S3 requests of the
	// server's request log, and the database's transactions.
	requests := make([][]S3Requests, len(contestants))
	xacts := make([][]int64, len(contestants))
	b.ResetTimer()
	order := make([]int, len(contestants))
	for run := range runs { // round-robin, so that noise spreads over all
		for i := range order {
			order[i] = i
		}
		if against != "" && run%2 == 1 {
			last := len(order) - 1
			order[1], order[last] = order[last], order[1]
		}
		for _, i := range order {
			c := contestants[i]
			if profiles != "" {
				b.Setenv("MAILTASK_CPUPROFILE", filepath.Join(profiles, fmt.Sprintf("corpus-%s-%d.pprof", c.profile, run+1)))
			}
			// The servers' CPU time during each run: on two cores they
			// share the CPUs with mailtask, so the sum of all is the wall
			// time's floor.
			servers := func() runCPU {
				return runCPU{imap: treeCPU(b, imap.PID()), s3: processCPU(b, c.s3.PID()), pg: treeCPU(b, postmaster)}
			}
			cluster := strings.HasPrefix(c.profile, "cluster")
			var logAt int64
			if c.requestLog != "" {
				if logAt, err = LogSize(c.requestLog); err != nil {
					b.Fatal(err)
				}
			}
			before := servers()
			s, err := once(b, c.Contestant, a, protocol, n)
			if err != nil {
				b.Fatalf("%s: %v", c.Name, err)
			}
			results[i].Samples = append(results[i].Samples, s)
			spent[i] = append(spent[i], servers().since(before, s.CPU))
			if cluster && c.requestLog != "" {
				reqs, _, err := ReadS3Requests(c.requestLog, logAt, objsink.ProbeName)
				if err != nil {
					b.Fatal(err)
				}
				requests[i] = append(requests[i], reqs)
			}
			if cluster {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				x, err := DatabaseTransactions(ctx, pg.URL("postgres"), lastDatabase)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				// The harness's own count of the ledger (Check) is one.
				xacts[i] = append(xacts[i], x-made[lastDatabase]-1)
			}
		}
	}
	b.StopTimer()

	var out bytes.Buffer
	fmt.Fprintf(&out, "\n## make bench: the corpus in cluster mode (PostgreSQL + S3) against the file store, %d messages over IMAPS, median of %d runs\n\n", n, runs)
	fmt.Fprintln(&out, "| store | median s | machine busy | CPU s: mailtask | Dovecot | S3 server | PostgreSQL | all | peak RSS MB |")
	fmt.Fprintln(&out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|")
	for i, r := range results {
		fmt.Fprintf(&out, "| %s | %.2f | %.0f %% | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f |\n", r.Tool, r.Median().Seconds(), 100*r.median().Busy,
			medianOf(spent[i], func(c runCPU) time.Duration { return c.mailtask }),
			medianOf(spent[i], func(c runCPU) time.Duration { return c.imap }),
			medianOf(spent[i], func(c runCPU) time.Duration { return c.s3 }),
			medianOf(spent[i], func(c runCPU) time.Duration { return c.pg }),
			medianOf(spent[i], runCPU.all), float64(r.PeakRSS())/mb)
	}
	// On a machine busy with other work the wall times stretch; the CPU
	// time of the processes a run involves does not, much.
	ratio, _ := Ratio(results, protocol, ToolMailtaskCluster, ToolMailtask)
	cpuRatio := medianOf(spent[1], runCPU.all) / medianOf(spent[0], runCPU.all)
	floor := medianOf(spent[1], runCPU.all) / float64(runtime.NumCPU()) / results[0].Median().Seconds()
	fmt.Fprintf(&out, "\ncluster mode / file store: %.2f× the wall time (target ≤ %.2f×), %.2f× the CPU time of all processes; "+
		"cluster mode's over %d CPUs alone takes %.2f× the file store's wall time\n", ratio, TargetCluster, cpuRatio, runtime.NumCPU(), floor)
	b.ReportMetric(ratio, "cluster/file-store")
	b.ReportMetric(cpuRatio, "cpu-cluster/file-store")
	b.ReportMetric(floor, "cpu-floor/file-store")
	// The same on SeaweedFS, which appends objects to volume files where
	// versitygw creates a file for each.
	weedAt := slices.IndexFunc(contestants, func(c contestant) bool { return c.profile == "cluster-seaweedfs" })
	weedRatio, _ := Ratio(results, protocol, ToolMailtaskClusterSeaweedFS, ToolMailtask)
	weedCPURatio := medianOf(spent[weedAt], runCPU.all) / medianOf(spent[0], runCPU.all)
	weedFloor := medianOf(spent[weedAt], runCPU.all) / float64(runtime.NumCPU()) / results[0].Median().Seconds()
	fmt.Fprintf(&out, "cluster mode on SeaweedFS / file store: %.2f× the wall time, %.2f× the CPU time of all processes; over %d CPUs alone it takes %.2f× the file store's wall time\n",
		weedRatio, weedCPURatio, runtime.NumCPU(), weedFloor)
	b.ReportMetric(weedRatio, "seaweedfs-cluster/file-store")
	b.ReportMetric(weedCPURatio, "seaweedfs-cpu-cluster/file-store")
	// What the target meets on this machine whatever mailtask does: the
	// servers cluster mode adds run on the same CPUs, so even a cluster
	// mailtask no dearer than the file store's would leave this floor.
	servers := medianOf(spent[0], func(c runCPU) time.Duration { return c.mailtask }) +
		medianOf(spent[1], func(c runCPU) time.Duration { return c.imap + c.s3 + c.pg })
	serversFloor := servers / float64(runtime.NumCPU()) / results[0].Median().Seconds()
	fmt.Fprintf(&out, "with cluster mode's mailtask as cheap as the file store's, the servers beside it (Dovecot, versitygw, PostgreSQL) would still take %.2f× the file store's wall time on %d CPUs\n",
		serversFloor, runtime.NumCPU())
	b.ReportMetric(serversFloor, "servers-floor/file-store")
	if tmpfs != "" {
		ratio, _ := Ratio(results, protocol, ToolMailtaskClusterTmpfs, ToolMailtaskTmpfs)
		at := func(profile string) int {
			return slices.IndexFunc(contestants, func(c contestant) bool { return c.profile == profile })
		}
		cpuRatio := medianOf(spent[at("cluster-tmpfs")], runCPU.all) / medianOf(spent[at("file-tmpfs")], runCPU.all)
		fmt.Fprintf(&out, "the same with the file store's destination and versitygw's storage on a tmpfs (%s), not the disk: %.2f× the wall time, %.2f× the CPU time of all processes\n",
			tmpfs, ratio, cpuRatio)
		b.ReportMetric(ratio, "tmpfs-cluster/file-store")
		b.ReportMetric(cpuRatio, "tmpfs-cpu-cluster/file-store")
	}
	if against != "" {
		last := len(contestants) - 1
		ratios := make([]float64, runs)
		for run := range runs {
			ratios[run] = spent[1][run].mailtask.Seconds() / spent[last][run].mailtask.Seconds()
		}
		slices.Sort(ratios)
		fmt.Fprintf(&out, "this tree's mailtask in cluster mode spent %.2f× the CPU time of %s's, the median of the rounds' ratios (%.2f to %.2f)\n",
			ratios[runs/2], against, ratios[0], ratios[runs-1])
		b.ReportMetric(ratios[runs/2], "cpu-mailtask/against")
	}
	for i, c := range contestants {
		if len(requests[i]) == 0 {
			continue
		}
		r := requests[i][0] // every run stores the same objects
		fmt.Fprintf(&out, "%s, a run: %d objects stored, S3 requests per object %s, and %d for the create-only probe; PostgreSQL transactions %d (%.3f per message)\n",
			c.Name, r.Objects(), r.PerObject(), r.Probe, xacts[i][0], float64(xacts[i][0])/float64(n))
	}
	os.Stdout.Write(out.Bytes())
}

// runCPU is the CPU time the processes of a run spent: the IMAP
// server's, the S3 server's, PostgreSQL's and mailtask's.
type runCPU struct{ imap, s3, pg, mailtask time.Duration }

// since returns what was spent after before, with mailtask's.
func (c runCPU) since(before runCPU, mailtask time.Duration) runCPU {
	return runCPU{imap: c.imap - before.imap, s3: c.s3 - before.s3, pg: c.pg - before.pg, mailtask: mailtask}
}

func (c runCPU) all() time.Duration { return c.imap + c.s3 + c.pg + c.mailtask }

// medianOf returns the median of f over runs, in seconds.
func medianOf(runs []runCPU, f func(runCPU) time.Duration) float64 {
	cpu := make([]time.Duration, len(runs))
	for i, r := range runs {
		cpu[i] = f(r)
	}
	return medianCPU(cpu).Seconds()
}

func processCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	cpu, err := ProcessCPU(pid, false)
	if err != nil {
		b.Fatal(err)
	}
	return cpu
}
