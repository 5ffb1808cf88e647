package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/config"
	"mailtask/internal/pgstore"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
	"mailtask/internal/testmail/postgres"
	"mailtask/internal/testmail/versitygw"
)

// In cluster mode a message is kept aside in the destination's bucket, and
// its failure record in the database. A message whose object key would be
// longer than S3 takes is kept aside whole and deleted from the server by
// after_failure; once file_name is shortened, --from-copy takes it from
// the bucket, under the task's lease, with its hook, and drops its failure
// record in the database with its commit.
func TestStateRetryFromCopyInTheCluster(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	long := "quarterly-statement-" + strings.Repeat("a", 176) + ".pdf"
	d.Seed(t, d.User, "INBOX", testmail.NewMessage("Statement", testmail.Attachment{Name: long, ContentType: "application/pdf", Content: []byte("%PDF-1.4 statement")}))
	gw := versitygw.Start(t)
	bucket := gw.NewBucket(t)
	url := postgres.Shared(t).NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := pgstore.Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	prefix := strings.Repeat(strings.Repeat("p", 150)+"/", 6) + "in" // 908 bytes: a short name fits, the long one not
	dir := t.TempDir()
	gw.WriteKeys(t, dir)
	hooked := filepath.Join(dir, "hooked")
	writeFile(t, dir, "db.url", url)
	configWith := func(fileName string) string {
		return writeFile(t, dir, "mailtask.toml", `state_dir = "state"
state_store_file = "db.url"
`+gw.SettingsTOML()+d.AccountTOML("dovecot", "imap", d.User, d.Password)+`[[task]]
name = "t"
account = "dovecot"
destination = "s3://`+bucket+`/`+prefix+`"
after_failure = "delete"
run_after_message = ["/bin/sh", "-c", "echo \"$MAILTASK_UID\" >> `+hooked+`"]
[task.output]
file_name = "`+fileName+`"
`)
	}
	cfg := configWith("{name}.{ext}")
	code, out, errOut := run(t, "run-task", "--config", cfg, "t")
	if code != exitOK || !strings.Contains(out, "1 new, 0 saved, 0 already taken, 1 failed") {
		t.Fatalf("first run: exit %d\n%s%s", code, out, errOut)
	}
	if total, _ := d.Count(d.User, "INBOX"); total != 0 {
		t.Fatalf("the server holds %d messages; want none, after_failure having deleted the one kept aside", total)
	}
	st, _ := dbState(t, url)
	if len(st.Failed) != 1 || st.Failed[0].Action != config.AfterDelete || !strings.HasPrefix(st.Failed[0].Path, "s3://"+bucket+"/") {
		t.Fatalf("kept aside: %+v; want one message in the bucket, deleted from the server", st.Failed)
	}
	key := st.Failed[0].Key

	code, out, errOut = run(t, "state", "retry", "--config", cfg, "t")
	if code != exitUsage || !strings.Contains(errOut, "mailtask state retry --from-copy t") {
		t.Fatalf("plain retry: exit %d, want %d naming --from-copy\n%s%s", code, exitUsage, out, errOut)
	}
	cfg = configWith("statement-{n}.{ext}")
	code, out, errOut = run(t, "state", "retry", "--from-copy", "--config", cfg, "t")
	if code != exitOK || !strings.Contains(out, "took 1 message(s) from the copies kept aside: 1 files") {
		t.Fatalf("retry from the copy: exit %d\n%s%s", code, out, errOut)
	}
	if got := objects(t, gw, bucket, prefix+"/"); !slices.Contains(got, prefix+"/statement-1.pdf") {
		t.Errorf("bucket after the retry from the copy: %v; want %s/statement-1.pdf", got, prefix)
	}
	if log, err := os.ReadFile(hooked); err != nil || strings.TrimSpace(string(log)) != strings.TrimPrefix(key, "uid:") {
		t.Errorf("the hook saw UIDs %q (%v); want %s once", log, err, key)
	}
	if st, n := dbState(t, url); len(st.Failed) != 0 || n != 1 {
		t.Errorf("database after the retry from the copy: failures %+v, %d in the ledger; want none kept aside, the message in the ledger", st.Failed, n)
	}
	code, out, errOut = run(t, "state", "retry", "--from-copy", "--config", cfg, "t", key)
	if code != exitUsage {
		t.Errorf("second retry from the copy: exit %d, want %d\n%s%s", code, exitUsage, out, errOut)
	}
}

// objects lists the keys under prefix in bucket.
func objects(t *testing.T, gw *versitygw.Server, bucket, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := gw.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range got.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

// bucketSums returns the objects below prefix in bucket as key (without
// the prefix) -> SHA-256 of their content.
func bucketSums(t *testing.T, gw *versitygw.Server, bucket, prefix string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	client := gw.Client()
	out := map[string]string{}
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, obj := range page.Contents {
			resp, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: obj.Key})
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			_, err = io.Copy(h, resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[strings.TrimPrefix(*obj.Key, prefix)] = hex.EncodeToString(h.Sum(nil))
		}
	}
	return out
}
