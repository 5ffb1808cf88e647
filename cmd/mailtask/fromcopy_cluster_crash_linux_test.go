package main

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
	"mailtask/internal/testmail/postgres"
	"mailtask/internal/testmail/versitygw"
	"mailtask/tasks/popimap"
)

// In cluster mode `state retry --from-copy` reads the copy from the
// bucket's _failed/TASK, puts the files in the bucket and commits under
// the task's lease (the fenced commit drops the failure record and adds
// the message to the ledger). Killed at any point of it (each file-system
// event of a clean one, in its spool and in the folders where the store
// keeps the bucket: between the puts, and between the last put and the
// commit) and run again, it leaves what a clean one leaves: the same
// objects, none twice nor under a "(1)" name, the failure record gone, the
// message once in the ledger, and the copy where it was. It runs under
// make soak alone, killed at each point: in make test, where its servers
// cost 11 CPU-s, the file store's variant (fromcopy_crash_linux_test.go)
// kills the same command, and TestCrashSuitePostgres the fenced commit.
func TestStateRetryFromCopyInTheClusterSurvivesAKillAnywhere(t *testing.T) {
	if !testmail.Soak() {
		t.Skip("an exhaustive variant: make soak runs it (MAILTASK_SOAK=1)")
	}
	t.Parallel() // servers and a database of its own
	d := dovecot.Start(t, dovecot.Options{})
	d.Seed(t, d.User, "INBOX", twoForwards())
	task := append([]string{`after_failure = "delete"`, "[task.attachments]", `nested = "extract"`}, allOutputs...)
	td := newTaskDir(t, d, "imap", d.User, d.Password, task...)
	onPostgres(t, td, false)
	gw := versitygw.Start(t)
	bucket := onS3(t, &td, gw, "in")
	if code, out, errOut := run(t, "run-task", "--config", td.config, "t"); code != exitOK || !strings.Contains(out, "1 failed") {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	editFile(t, td.config, `nested = "extract"`, `nested = "eml"`)
	kept := bucketSums(t, gw, bucket, "in/")
	url := td.database(t)
	pg := postgres.Shared(t)
	snapshot := pg.CopyDatabase(t, url)
	restore := func() {
		t.Helper()
		pg.RestoreDatabase(t, url, snapshot)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, key := range objects(t, gw, bucket, "in/") {
			if _, ok := kept[strings.TrimPrefix(key, "in/")]; ok {
				continue
			}
			if _, err := gw.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
				t.Fatal(err)
			}
		}
	}

	_, events, out := killRetryFromCopy(t, td, 0)
	if !strings.Contains(out, "took 1 message(s)") {
		t.Fatalf("clean retry from the copy: %s", out)
	}
	clean := bucketSums(t, gw, bucket, "in/")
	if written := slices.Sorted(maps.Keys(clean)); len(clean)-len(kept) < 5 || slices.ContainsFunc(written, func(k string) bool { return strings.Contains(k, "(1)") }) {
		t.Fatalf("a clean retry from the copy left %v; want the two attached messages, the message, its body and its sidecar beside %v", written, slices.Sorted(maps.Keys(kept)))
	}
	// Most events are the puts' (the store's), the last ones those of the
	// last puts, before the commit, which makes none; inotify merges
	// events that come together, so a run may end before its last kill
	// points. The sample spreads three over them: in the spool's, amid
	// the puts and at the last puts'.
	points := spread(1, events-1, events-1)
	kills, between := 0, 0 // between: kills that left objects written and the message kept aside
	for _, killAt := range points {
		restore()
		if killed, _, _ := killRetryFromCopy(t, td, killAt); killed {
			kills++
			if st, _ := dbState(t, url); len(st.Failed) == 1 && len(bucketSums(t, gw, bucket, "in/")) > len(kept) {
				between++
			}
			td.expireLeases(t) // as they would an hour after the kill
		}
		_, _, out := killRetryFromCopy(t, td, 0)
		if !strings.Contains(out, "took 1 message(s)") && !strings.Contains(out, "no message is kept aside") {
			t.Fatalf("killed at event %d, the retry after: %s", killAt, out)
		}
		if got := bucketSums(t, gw, bucket, "in/"); !maps.Equal(got, clean) {
			t.Fatalf("killed at event %d, then run again, the bucket holds %v; after a clean retry %v", killAt, got, clean)
		}
		if st, n := dbState(t, url); len(st.Failed) != 0 || n != 1 {
			t.Fatalf("killed at event %d, then run again: kept aside %+v, %d in the ledger; want none kept aside, the message once", killAt, st.Failed, n)
		}
		if left, err := os.ReadDir(popimap.SpoolDir(td.state, "t")); err != nil || len(left) > 0 {
			t.Fatalf("killed at event %d, then run again: the spool holds %v (%v)", killAt, left, err)
		}
	}
	if kills < len(points)/2 || between == 0 {
		t.Errorf("%d of %d kill points struck, %d of them between an object put and the commit", kills, len(points), between)
	}
	t.Logf("%d of %d kill points struck, %d of them between an object put and the commit", kills, len(points), between)
}

// spread returns n whole numbers from first to last, evenly apart (all of
// them when there are no more than n).
func spread(first, last, n int) []int {
	if last-first+1 <= n {
		n = last - first + 1
	}
	points := make([]int, 0, n)
	for i := range n {
		p := first
		if n > 1 {
			p += i * (last - first) / (n - 1)
		}
		points = append(points, p)
	}
	return slices.Compact(points)
}

// onS3 moves td's destination into a fresh bucket of gw, under prefix,
// and returns the bucket. The kill points of attemptCommand become the
// events in the folders where gw keeps the bucket (its posix backend: a
// folder per prefix, where a put's object is linked under its key, and
// .sgwtmp, where its body goes first) and in the task's spool, which is
// all a run of cluster mode writes to disk.
func onS3(t *testing.T, td *taskDir, gw *versitygw.Server, prefix string) string {
	t.Helper()
	bucket := gw.NewBucket(t)
	gw.WriteKeys(t, td.dir)
	text, err := os.ReadFile(td.config)
	if err != nil {
		t.Fatal(err)
	}
	s3 := strings.Replace(string(text), `destination = "dest"`, `destination = "s3://`+bucket+"/"+prefix+`"`, 1)
	writeFile(t, td.dir, filepath.Base(td.config), gw.SettingsTOML()+s3)
	root := filepath.Join(gw.Dir, "root", bucket)
	td.watch = []string{filepath.Join(root, prefix), filepath.Join(root, ".sgwtmp"), popimap.SpoolDir(td.state, "t")}
	return bucket
}
