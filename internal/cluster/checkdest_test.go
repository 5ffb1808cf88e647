package cluster_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/cluster"
	"mailtask/internal/config"
	"mailtask/internal/objsink"
	"mailtask/internal/testmail/versitygw"
)

// checkOn runs CheckDestination for a task writing to a new bucket of srv
// under the file store, with top's top-level lines.
func checkOn(t *testing.T, srv *versitygw.Server, top string) (bucket, detail string, err error) {
	t.Helper()
	bucket = srv.NewBucket(t)
	t.Setenv("MAILTASK_CHECK_TEST_S3_ID", srv.AccessKeyID)
	t.Setenv("MAILTASK_CHECK_TEST_S3_SECRET", srv.SecretAccessKey)
	text := fmt.Sprintf(`state_dir = "state"
s3_endpoint = %q
s3_access_key_id_env = "MAILTASK_CHECK_TEST_S3_ID"
s3_secret_access_key_env = "MAILTASK_CHECK_TEST_S3_SECRET"
%s
[accounts.a]
host = "imap.example.com"
username = "u"
password_env = "MAILTASK_CHECK_TEST_PASSWORD"
[[task]]
name = "t"
account = "a"
destination = "s3://%s/in/{yyyy}"
`, srv.Endpoint, top, bucket)
	path := filepath.Join(t.TempDir(), "mailtask.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := cluster.Open(testContext(t), cfg, cluster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	detail, err = n.CheckDestination(testContext(t), "s3://"+bucket+"/in")
	return bucket, detail, err
}

// `mailtask check` tells whether the store honours create-only puts, by
// the probe a run makes, which leaves its object under the destination.
func TestCheckDestinationProbesCreateOnlyPuts(t *testing.T) {
	for _, tc := range []struct {
		name, top string
		srv       *versitygw.Server
		detail    string // "" for a failed check
	}{
		{"honoured", "", versitygw.Shared(t), "honours create-only puts, multipart uploads too (probe object in/_mailtask/create-only-probe)"},
		{"ignored", "", versitygw.SharedLegacy(t), ""},
		{"ignored, check first", `s3_create_only = "check_first"`, versitygw.SharedLegacy(t), `ignores create-only puts (If-None-Match: *; probe object in/_mailtask/create-only-probe), so each put looks at its key first`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket, detail, err := checkOn(t, tc.srv, tc.top)
			var co *objsink.CreateOnlyError
			switch {
			case tc.detail == "" && (!errors.As(err, &co) || !strings.Contains(err.Error(), tc.srv.Endpoint)):
				t.Fatalf("check: %q, %v; want a CreateOnlyError naming the endpoint", detail, err)
			case tc.detail != "" && (err != nil || !strings.Contains(detail, tc.detail)):
				t.Fatalf("check: %q, %v; want %q", detail, err, tc.detail)
			}
			_, err = tc.srv.Client().HeadObject(testContext(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("in/" + objsink.ProbeName)})
			if err != nil {
				t.Errorf("the probe's object: %v", err)
			}
		})
	}
}
