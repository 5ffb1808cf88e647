//go:build unix

package popimap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"mailtask/internal/cluster"
	"mailtask/internal/config"
	"mailtask/internal/objsink"
	"mailtask/internal/pgstore"
	"mailtask/internal/sink"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
	"mailtask/internal/testmail/postgres"
	"mailtask/internal/testmail/versitygw"
)

// A cluster of the tests: a database of its own on the shared PostgreSQL,
// a bucket of its own on the shared versitygw, and a task "t" on a real
// Dovecot, run as a node of cluster mode runs it.
type clusterFixture struct {
	url    string // the database
	gw     *versitygw.Server
	bucket string
	cfg    *config.Config
}

// newCluster configures task "t" on d's mailbox in cluster mode; dest is
// its destination, "s3://BUCKET/..." for the fixture's bucket
// ("s3://LEGACY/..." for one on the versitygw that ignores create-only
// puts, "s3://OWN/..." for one on a versitygw of the test's own, which
// it may stop), and top
// adds top-level lines, or is fileStore, perhaps followed by some, for a
// configuration without a state_store.
func newCluster(t *testing.T, d *dovecot.Server, dest, top string, taskTOML ...string) *clusterFixture {
	t.Helper()
	c := &clusterFixture{url: postgres.Shared(t).NewDatabase(t)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pgstore.Migrate(ctx, c.url); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MAILTASK_POPIMAP_TEST_DB", c.url)
	s3keys := ""
	if strings.Contains(dest, "s3://BUCKET") || strings.Contains(dest, "s3://LEGACY") || strings.Contains(dest, "s3://OWN") {
		switch {
		case strings.Contains(dest, "s3://LEGACY"):
			c.gw = versitygw.SharedLegacy(t)
		case strings.Contains(dest, "s3://OWN"):
			c.gw = versitygw.Start(t)
		default:
			c.gw = versitygw.Shared(t)
		}
		c.bucket = c.gw.NewBucket(t)
		dest = strings.NewReplacer("s3://BUCKET", "s3://"+c.bucket, "s3://LEGACY", "s3://"+c.bucket, "s3://OWN", "s3://"+c.bucket).Replace(dest)
		s3keys = c.gw.SettingsTOML()
	}
	dir := t.TempDir()
	if c.gw != nil {
		c.gw.WriteKeys(t, dir)
	}
	store := "state_store_env = \"MAILTASK_POPIMAP_TEST_DB\"\n"
	if rest, ok := strings.CutPrefix(top, fileStore); ok {
		store, top = "", rest
	}
	text := `state_dir = "state"
` + store + s3keys + top + "\n" + d.AccountTOML("dovecot", config.ProtocolIMAP, d.User, d.Password) + `[[task]]
name = "t"
account = "dovecot"
destination = "` + dest + `"
` + strings.Join(taskTOML, "\n") + "\n"
	path := filepath.Join(dir, "mailtask.toml")
	mustT(t, os.WriteFile(path, []byte(text), 0o600))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c.cfg = cfg
	return c
}

// node opens a node of the cluster named name.
func (c *clusterFixture) node(t *testing.T, name string) *cluster.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := cluster.Open(ctx, c.cfg, cluster.Options{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// runOn runs the task once on n as a node does: under the lease it
// claims, which it gives back afterwards; held, when set, wraps the
// lease's Held.
func (c *clusterFixture) runOn(t *testing.T, n *cluster.Node, held func(Held) Held) (Summary, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lease, err := n.Store().ClaimTask(ctx, "t", n.Lease())
	if err != nil {
		t.Fatal(err)
	}
	h := Held(n.Held(lease, nil))
	if held != nil {
		h = held(h)
	}
	sum, err := Run(ctx, Options{Config: c.cfg, Task: c.cfg.Tasks[0], Held: h, Shared: n})
	lease.Release(ctx, time.Time{})
	return sum, err
}

// runShared runs the task once with n's shared resources (its object
// store) and the fixture's state store, and fails t if the run fails.
func (c *clusterFixture) runShared(t *testing.T, n *cluster.Node) Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := Run(ctx, Options{Config: c.cfg, Task: c.cfg.Tasks[0], Shared: n})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// objects lists the bucket: key -> SHA-256 of the content, but for the
// object of the store's create-only probe.
func (c *clusterFixture) objects(t *testing.T) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := c.gw.Client()
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.bucket)})
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]string{}
	for _, o := range out.Contents {
		if strings.HasSuffix(aws.ToString(o.Key), objsink.ProbeName) {
			continue
		}
		got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.bucket), Key: o.Key})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, got.Body)
		got.Body.Close()
		mustT(t, err)
		objects[aws.ToString(o.Key)] = hex.EncodeToString(h.Sum(nil))
	}
	return objects
}

// stored reads the task's state and ledger as the database holds them.
func (c *clusterFixture) stored(t *testing.T) (*state.State, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.url)
	mustT(t, err)
	defer conn.Close(context.Background())
	var ledger int
	mustT(t, conn.QueryRow(ctx, "SELECT count(*) FROM ledger WHERE task = 't'").Scan(&ledger))
	s, err := pgstore.Open(ctx, pgstore.Options{URL: c.url, Node: "test"})
	mustT(t, err)
	defer s.Close()
	st, err := s.LoadState(ctx, "t")
	mustT(t, err)
	return st, ledger
}

// fileStore, as newCluster's top, keeps the state under state_dir.
const fileStore = "(the file store)"

func invoice(subject, name string, content []byte) []byte {
	return testmail.NewMessage(subject, testmail.Attachment{Name: name, ContentType: "application/pdf", Content: content})
}

func TestClusterS3DestinationOverDovecot(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	unparseable := []byte("\r\nthis message has no header at all\r\n")
	d.Seed(t, d.User, "INBOX",
		invoice("March", "invoice.pdf", pdf("march")),
		invoice("April", "report.pdf", pdf("april")),
		unparseable)
	fileHook, fileLog := hookScript(t, "OBJECT_KEY", "OBJECT_URL", "FILE", "FILE_PATH", "KIND")
	msgHook, msgLog := hookScript(t, "METADATA_URL", "FILES", "DIR", "FILE_COUNT", "OBJECT_URLS")
	c := newCluster(t, d, "s3://BUCKET/mail/{from_domain}", "",
		`run_after_file = ["`+fileHook+`"]`, `run_after_message = ["`+msgHook+`"]`,
		"[task.output]", `eml = true`, `body = "text"`, `metadata = true`)
	node := c.node(t, "node-a")

	sum, err := c.runOn(t, node, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Saved != 2 || sum.Failed != 1 {
		t.Errorf("first run: %+v", sum)
	}
	first := c.objects(t)
	var keys []string
	for k := range first {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, want := range []string{"invoice.pdf", "report.pdf", ".eml", ".txt", ".json"} {
		if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "mail/") && strings.HasSuffix(k, want) }) {
			t.Errorf("no object ending %q under mail/: %v", want, keys)
		}
	}
	// The quarantine is in the bucket, where every node finds it, not on
	// this node's disk.
	if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "mail/_failed/t/") && strings.HasSuffix(k, ".eml") }) ||
		!slices.ContainsFunc(keys, func(k string) bool {
			return strings.HasPrefix(k, "mail/_failed/t/") && strings.HasSuffix(k, ".reason.txt")
		}) {
		t.Errorf("the unparseable message is not kept in the bucket: %v", keys)
	}
	if _, err := os.Stat(QuarantineDir(c.cfg.StateDir, "t")); !os.IsNotExist(err) {
		t.Errorf("a quarantine folder was made on the node's disk: %v", err)
	}
	st, ledger := c.stored(t)
	if ledger != 3 || len(st.Failed) != 1 || !strings.HasPrefix(st.Failed[0].Path, "s3://"+c.bucket+"/mail/_failed/t/") {
		t.Errorf("database: %d in the ledger, failures %+v", ledger, st.Failed)
	}
	// Hooks are told the objects' keys and URLs, not paths.
	for _, line := range logLines(t, fileLog) {
		f := strings.Split(line, "|")
		if f[0] == "" || f[1] != "s3://"+c.bucket+"/"+f[0] || f[2] != "" || !strings.HasSuffix(f[0], f[3]) {
			t.Errorf("file hook saw %q, want OBJECT_KEY, OBJECT_URL and FILE_PATH, no FILE", line)
		}
	}
	// OBJECT_URLS, last, takes a line per file.
	calls := 0
	for _, line := range logLines(t, msgLog) {
		f := strings.Split(line, "|")
		if len(f) == 1 {
			if !strings.HasPrefix(line, "s3://"+c.bucket+"/mail/") {
				t.Errorf("message hook saw an object URL %q", line)
			}
			continue
		}
		calls++
		if !strings.HasPrefix(f[0], "s3://"+c.bucket+"/mail/") || !strings.HasSuffix(f[0], ".json") || f[1] != "" || f[2] != "" || f[3] != "4" ||
			!strings.HasPrefix(f[4], "s3://"+c.bucket+"/mail/") {
			t.Errorf("message hook saw %q, want METADATA_URL, FILE_COUNT and OBJECT_URLS, no FILES or DIR", line)
		}
	}
	if calls != 2 {
		t.Errorf("the message hook ran %d times, want twice", calls)
	}

	// A run that finds every message anew (its state forgotten, as after
	// a crash before the commit) writes no object twice.
	forget(t, c, node)
	again, err := c.runOn(t, node, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Files != 0 || again.Saved != 2 {
		t.Errorf("re-run: %+v, want the messages taken again and no file written", again)
	}
	if after := c.objects(t); !sameMap(after, first) {
		t.Errorf("the re-run changed the bucket:\n%v\nwant\n%v", after, first)
	}

	// Other content under a name taken gets " (1)".
	d.Append(t, d.User, "INBOX", invoice("May", "invoice.pdf", pdf("may, different")))
	if _, err := c.runOn(t, node, nil); err != nil {
		t.Fatal(err)
	}
	added := 0
	for k := range c.objects(t) {
		if _, ok := first[k]; !ok {
			added++
			if strings.HasSuffix(k, ".pdf") && !strings.HasSuffix(k, "invoice (1).pdf") {
				t.Errorf("new attachment object %q, want invoice (1).pdf", k)
			}
		}
	}
	if added != 4 { // attachment, .eml, .txt, .json
		t.Errorf("%d objects added for one new message, want 4", added)
	}
}

// forget replaces the task's state in the database with an empty one.
func forget(t *testing.T, c *clusterFixture, n *cluster.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := n.Store().ClaimTask(ctx, "t", n.Lease())
	mustT(t, err)
	mustT(t, l.Replace(ctx, &state.State{Version: state.Version, Task: "t"}, nil))
	mustT(t, l.Release(ctx, time.Time{}))
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// stalled is a Held whose node stalls, once, just before its commit
// number before or just after its commit number after: meanwhile its
// lease runs out and another node claims the task, as when a node is
// paused (a VM frozen, a SIGSTOP) past its lease. It counts the commits
// and the confirmations (asked before each change to the mailbox) that
// went through.
type stalled struct {
	Held
	before, after       int
	stall               func()
	calls               int
	committed, confirms atomic.Int32
}

func (s *stalled) Commit(ctx context.Context, st *state.State, fps []state.Fingerprint) error {
	s.calls++
	if s.calls == s.before {
		s.stall()
	}
	err := s.Held.Commit(ctx, st, fps)
	if err == nil {
		s.committed.Add(1)
	}
	if s.calls == s.after {
		s.stall()
	}
	return err
}

func (s *stalled) Confirm(ctx context.Context) error {
	err := s.Held.Confirm(ctx)
	if err == nil {
		s.confirms.Add(1)
	}
	return err
}

func TestAStalledNodeCommitsNothingAndActsOnNothing(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after int
		want          []error // the run's error is one of these
	}{
		// Paused before committing the second batch: the commit is
		// refused, and the run stops.
		{"commit", 2, 0, []error{pgstore.ErrFenced}},
		// Paused once the first batch is committed, before its messages
		// are moved: they are not; the node that takes the task over
		// moves them. Whether the refused move or the next commit stops
		// the run first is a race.
		{"action", 0, 1, []error{pgstore.ErrLeaseLost, pgstore.ErrFenced}},
	} {
		t.Run(tc.name, func(t *testing.T) { stalledNode(t, tc.before, tc.after, tc.want) })
	}
}

func stalledNode(t *testing.T, before, after int, want []error) {
	const n = 4
	d := invoicesToMove(t, n)
	c := newCluster(t, d, "dest", "", `after = "move"`, `move_to = "Processed"`, "batch_size = 1", "connections = 1")
	a, b := c.node(t, "node-a"), c.node(t, "node-b")

	var (
		taken *pgstore.Lease
		s     *stalled
	)
	sum, err := c.runOn(t, a, func(h Held) Held {
		s = &stalled{Held: h, before: before, after: after, stall: func() {
			// The lease runs out while node a stands still; node b claims
			// the task.
			sqlExec(t, c.url, "UPDATE tasks SET lease_until = clock_timestamp() - interval '1 second' WHERE task = 't'")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var err error
			if taken, err = b.Store().ClaimTask(ctx, "t", time.Hour); err != nil {
				t.Errorf("node b could not claim the task: %v", err)
			}
		}}
		return s
	})
	if !slices.ContainsFunc(want, func(w error) bool { return errors.Is(err, w) }) {
		t.Fatalf("the stalled node's run ended with %v, want %v", err, want)
	}
	if taken == nil {
		t.Fatal("the node never stalled")
	}
	committed := int(s.committed.Load())
	st, ledger := c.stored(t)
	if sum.Saved != committed || ledger != committed || st.Done.Len() != uint64(committed) || committed == n {
		t.Errorf("%d commits went through; summary %+v, %d in the ledger, UIDs done %s", committed, sum, ledger, st.Done.String())
	}
	// The node changed the mailbox only for messages it confirmed it
	// still held the task before moving (one per batch), none after.
	processed, _ := d.Count(d.User, "Processed")
	if confirmed := int(s.confirms.Load()); processed > confirmed || processed > committed {
		t.Errorf("Processed holds %d messages; the node confirmed its lease %d times and committed %d", processed, confirmed, committed)
	}
	// Nor did it write past the batch it could not commit.
	for name := range filesIn(t, filepath.Join(filepath.Dir(c.cfg.File), "dest")) {
		var i int
		if _, err := fmt.Sscanf(name, "scan-%d.pdf", &i); err == nil && i > committed {
			t.Errorf("the stalled node wrote %s, %d batches past its last commit", name, i-committed)
		}
	}

	// The node that took the task over finishes the work, once.
	mustT(t, taken.Release(context.Background(), time.Time{}))
	if _, err := c.runOn(t, b, nil); err != nil {
		t.Fatal(err)
	}
	inbox, _ := d.Count(d.User, "INBOX")
	processed, _ = d.Count(d.User, "Processed")
	if inbox != 0 || processed != n {
		t.Errorf("after node b's run: INBOX %d, Processed %d; want 0 and %d", inbox, processed, n)
	}
	if _, ledger := c.stored(t); ledger != n {
		t.Errorf("%d messages in the ledger, want %d", ledger, n)
	}
}

func TestALostLeaseStopsTheRun(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	d.Seed(t, d.User, "INBOX", invoice("m", "scan.pdf", pdf("m")))
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	mustT(t, syscall.Mkfifo(started, 0o600))
	hook := filepath.Join(dir, "hook.sh")
	// The hook says it has started, then stands still.
	mustT(t, os.WriteFile(hook, []byte("#!/bin/sh\necho started > '"+started+"'\nexec sleep 600\n"), 0o755))
	c := newCluster(t, d, "dest", `lease = "3s"`, `after = "delete"`, `run_after_message = ["`+hook+`"]`)
	n := c.node(t, "node-a")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lease, err := n.Store().ClaimTask(ctx, "t", n.Lease())
	mustT(t, err)
	held, stop := n.Hold(ctx, lease)
	done := make(chan error, 1)
	go func() {
		_, err := Run(held, Options{Config: c.cfg, Task: c.cfg.Tasks[0], Held: n.Held(lease, nil), Shared: n})
		done <- cluster.LeaseLost(held, err)
	}()
	hookStarted := make(chan error, 1)
	go func() {
		_, err := os.ReadFile(started) // returns once the hook has written and closed it
		hookStarted <- err
	}()
	select {
	case err := <-hookStarted:
		mustT(t, err)
	case err := <-done:
		t.Fatalf("the run ended before its hook ran: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the hook never started")
	}
	// The lease is lost (another node took the task, say): the next
	// renewal fails and the run stops, hook and all.
	sqlExec(t, c.url, "UPDATE tasks SET epoch = epoch + 1, holder = 'node-b' WHERE task = 't'")
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the run went on after its lease was lost")
	}
	if lost := stop(); !errors.Is(lost, pgstore.ErrLeaseLost) {
		t.Errorf("Hold's stop says %v, want the lease lost", lost)
	}
	if !errors.Is(err, pgstore.ErrLeaseLost) {
		t.Fatalf("run ended with %v, want the lease lost", err)
	}
	if _, ledger := c.stored(t); ledger != 0 {
		t.Errorf("%d messages committed by a run that lost its lease", ledger)
	}
	if inbox, _ := d.Count(d.User, "INBOX"); inbox != 1 {
		t.Errorf("INBOX holds %d messages, want the one the run did not commit", inbox)
	}
}

// sqlExec runs a statement on the database at url, as an administrator
// would.
func sqlExec(t *testing.T, url, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	mustT(t, err)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestS3DestinationWithTheFileStore(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	d.Seed(t, d.User, "INBOX", invoice("March", "invoice.pdf", pdf("march")))
	c := newCluster(t, d, "s3://BUCKET/in", fileStore)
	n := c.node(t, "node-a")
	run := func() Summary { return c.runShared(t, n) }
	if sum := run(); sum.Files != 1 {
		t.Fatalf("first run: %+v", sum)
	}
	first := c.objects(t)
	if len(first) != 1 {
		t.Fatalf("bucket holds %v, want the attachment", first)
	}
	// The state is in the files under state_dir; a run that finds the
	// message again writes no object twice.
	mustT(t, state.Reset(c.cfg.StateDir, "t"))
	if sum := run(); sum.Files != 0 || sum.Saved != 1 {
		t.Errorf("re-run: %+v", sum)
	}
	if got := c.objects(t); !sameMap(got, first) {
		t.Errorf("the re-run changed the bucket: %v", got)
	}
	if _, err := os.Stat(state.Path(c.cfg.StateDir, "t")); err != nil {
		t.Errorf("no state file under state_dir: %v", err)
	}
}

// TestS3NamesInMessageOrder checks that the object sink's puts, which run
// several at once, give names as one put after another in message order
// would: a batch of messages that each carry "same.pdf" (and a sidecar
// named alike) gets "same.pdf", "same (1).pdf", ... in message order, and
// each sidecar lists the name its own message's file got.
func TestS3NamesInMessageOrder(t *testing.T) {
	const n = 24
	d := dovecot.Start(t, dovecot.Options{})
	var raws [][]byte
	for i := range n {
		raws = append(raws, invoice("Same", "same.pdf", pdf(fmt.Sprintf("copy %d", i))))
	}
	d.Seed(t, d.User, "INBOX", raws...)
	c := newCluster(t, d, "s3://BUCKET/in", "", "[task.output]", `metadata = true`, `message_name = "{subject}"`)
	if sum, err := c.runOn(t, c.node(t, "node-a"), nil); err != nil || sum.Saved != n {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	byHash := map[string]string{}
	for key, sum := range c.objects(t) {
		byHash[sum] = key
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range n {
		content := sha256.Sum256(pdf(fmt.Sprintf("copy %d", i)))
		want := "in/" + sink.Candidate("same.pdf", i)
		if got := byHash[hex.EncodeToString(content[:])]; got != want {
			t.Errorf("message %d's file is at %q, want %q", i+1, got, want)
		}
		got, err := c.gw.Client().GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.bucket), Key: aws.String("in/" + sink.Candidate("same.json", i))})
		mustT(t, err)
		var meta struct {
			UID   uint32 `json:"uid"`
			Files []struct {
				Path string `json:"path"`
			} `json:"files"`
		}
		err = json.NewDecoder(got.Body).Decode(&meta)
		got.Body.Close()
		mustT(t, err)
		if meta.UID != uint32(i+1) || len(meta.Files) != 1 || meta.Files[0].Path != sink.Candidate("same.pdf", i) {
			t.Errorf("%s holds UID %d and %+v, want UID %d and %q", sink.Candidate("same.json", i), meta.UID, meta.Files, i+1, sink.Candidate("same.pdf", i))
		}
	}
}

// A message with a file whose object key would be longer than S3 takes
// (1,024 bytes) is kept aside whole, with the reason naming the settings
// to shorten, and the run takes the others: before, its put failed the
// batch on every run, and held back every message after it.
func TestAMessageWhoseKeyIsTooLongIsKeptAside(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	long := "quarterly-statement-" + strings.Repeat("a", 176) + ".pdf" // 200 bytes, as long as a sanitised name gets
	d.Seed(t, d.User, "INBOX",
		invoice("March", "march.pdf", pdf("march")),
		invoice("Statement", long, pdf("statement")),
		invoice("April", "april.pdf", pdf("april")))
	prefix := strings.Repeat(strings.Repeat("p", 150)+"/", 6) + "in" // 908 bytes: a short name fits, the long one not
	c := newCluster(t, d, "s3://BUCKET/"+prefix, fileStore)
	n := c.node(t, "node-a")

	// A dry run says so beforehand, and writes nothing.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dry, err := Run(ctx, Options{Config: c.cfg, Task: c.cfg.Tasks[0], Shared: n, DryRun: true})
	mustT(t, err)
	if len(dry.Planned) != 2 || len(dry.Aside) != 1 || dry.Aside[0].Key != "uid:2" || !strings.Contains(dry.Aside[0].Reason, "longer than S3's 1024") {
		t.Errorf("dry run: planned %v, aside %+v; want the statement's key named too long", dry.Planned, dry.Aside)
	}
	if got := c.objects(t); len(got) != 0 {
		t.Errorf("the dry run wrote %v", got)
	}
	if _, err := os.Stat(QuarantineDir(c.cfg.StateDir, "t")); !os.IsNotExist(err) {
		t.Errorf("the dry run kept something aside: %v", err)
	}

	run := func() Summary { return c.runShared(t, n) }
	if sum := run(); sum.Saved != 2 || sum.Failed != 1 {
		t.Fatalf("run: %+v, want 2 saved and 1 kept aside", sum)
	}
	want := map[string]bool{prefix + "/march.pdf": true, prefix + "/april.pdf": true}
	got := c.objects(t)
	for key := range got {
		if !want[key] {
			t.Errorf("unexpected object %q", key)
		}
		delete(want, key)
	}
	if len(want) > 0 {
		t.Errorf("missing objects %v", want)
	}
	aside, err := os.ReadDir(QuarantineDir(c.cfg.StateDir, "t"))
	mustT(t, err)
	var eml, reason string
	for _, e := range aside {
		data, err := os.ReadFile(filepath.Join(QuarantineDir(c.cfg.StateDir, "t"), e.Name()))
		mustT(t, err)
		switch {
		case strings.HasSuffix(e.Name(), ".eml"):
			eml = string(data)
		case strings.HasSuffix(e.Name(), ".reason.txt"):
			reason = string(data)
		}
	}
	if !strings.Contains(eml, "Subject: Statement") {
		t.Errorf("the message kept aside is not the statement: %.200q (in %v)", eml, aside)
	}
	for _, part := range []string{long, "1024", "destination, file_name or message_name"} {
		if !strings.Contains(reason, part) {
			t.Errorf("the reason does not name %q: %s", part, reason)
		}
	}
	if sum := run(); sum.Saved != 0 || sum.Failed != 0 {
		t.Errorf("second run: %+v, want nothing new: the message kept aside is done", sum)
	}
}

// On a store that ignores If-None-Match: *, a later run's different
// invoice.pdf would replace the first one unseen. By default a run writes
// nothing there and fails, naming the setting; with s3_create_only =
// "check_first" both files are kept, the second as "invoice (1).pdf".
func TestAStoreIgnoringCreateOnlyLosesNoFile(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	d.Seed(t, d.User, "INBOX", invoice("March", "invoice.pdf", pdf("march")))

	refused := newCluster(t, d, "s3://LEGACY/in", fileStore)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := Run(ctx, Options{Config: refused.cfg, Task: refused.cfg.Tasks[0], Shared: refused.node(t, "node-a")})
	var co *objsink.CreateOnlyError
	if !errors.As(err, &co) || !strings.Contains(err.Error(), `s3_create_only = "check_first"`) || sum.Saved != 0 {
		t.Fatalf("run on a store ignoring the condition: %+v, %v; want nothing saved and the error naming s3_create_only", sum, err)
	}
	if got := refused.objects(t); len(got) != 0 {
		t.Fatalf("the refused run wrote %v", got)
	}

	c := newCluster(t, d, "s3://LEGACY/in", fileStore+"\n"+`s3_create_only = "check_first"`)
	n := c.node(t, "node-a")
	if sum := c.runShared(t, n); sum.Files != 1 {
		t.Fatalf("first run: %+v", sum)
	}
	d.Seed(t, d.User, "INBOX", invoice("April", "invoice.pdf", pdf("april")))
	if sum := c.runShared(t, n); sum.Files != 1 {
		t.Fatalf("second run: %+v", sum)
	}
	march, april := sha256.Sum256(pdf("march")), sha256.Sum256(pdf("april"))
	want := map[string]string{"in/invoice.pdf": hex.EncodeToString(march[:]), "in/invoice (1).pdf": hex.EncodeToString(april[:])}
	if got := c.objects(t); !sameMap(got, want) {
		t.Fatalf("bucket holds %v, want %v", got, want)
	}
}

// A run that finds the object store down is tried again, as the daemon
// tries it (Retry), under the lease it claimed for itself alone, whose
// record would give the lease back (cluster.End): the record of the
// failed attempt keeps the lease, and the next attempt, once the store is
// back, takes the mail. Were the lease given back with the first record,
// the run would stop there, its retries dropped, and the mail would wait
// for the task's next turn by its schedule.
func TestARunMeetingTheStoreDownIsTriedAgainUnderItsLease(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	d.Seed(t, d.User, "INBOX", invoice("m", "scan.pdf", pdf("m")))
	c := newCluster(t, d, "s3://OWN/mail", "", "retries = 1")
	n := c.node(t, "node-a")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lease, err := n.Store().ClaimTask(ctx, "t", n.Lease())
	mustT(t, err)
	held, stop := n.Hold(ctx, lease)
	end := &cluster.End{Stop: stop, NextDue: func() time.Time { return time.Now().Add(time.Hour) }}

	c.gw.Stop()
	var waits int
	back := Backoff{Jitter: func(time.Duration) time.Duration {
		waits++
		c.gw.Relaunch(t) // between the attempts
		return 0
	}}
	sum, err := Retry(Run, back)(held, Options{Config: c.cfg, Task: c.cfg.Tasks[0], Held: n.Held(lease, end), Shared: n})
	if err != nil || waits != 1 || sum.Saved != 1 {
		t.Fatalf("run: %+v, %v after %d retries; want the message saved by the retry", sum.Counts, err, waits)
	}
	if !end.Ended() {
		t.Error("the last attempt's record did not give the lease back")
	}
	if _, ledger := c.stored(t); ledger != 1 {
		t.Errorf("%d messages in the ledger, want 1", ledger)
	}
	if got := c.objects(t); len(got) != 1 || got["mail/scan.pdf"] == "" {
		t.Errorf("objects %v, want mail/scan.pdf", got)
	}
}
