package objsink

import (
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"mailtask/internal/s3url"
	"mailtask/internal/sink"
	"mailtask/internal/testmail/versitygw"
)

// isolateAWSEnv clears what the standard chain reads, so that only what a
// test sets counts.
func isolateAWSEnv(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// With no S3 keys in the configuration, the standard AWS environment
// works as users expect, and a custom endpoint means path-style.
func TestClientFromTheStandardEnvironment(t *testing.T) {
	srv := versitygw.Shared(t)
	for _, endpointVar := range []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		t.Run(endpointVar, func(t *testing.T) {
			isolateAWSEnv(t)
			t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKeyID)
			t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretAccessKey)
			t.Setenv("AWS_REGION", versitygw.Region)
			t.Setenv(endpointVar, srv.Endpoint)
			client, err := NewClient(testContext(t), ClientConfig{})
			if err != nil {
				t.Fatal(err)
			}
			if !client.Options().UsePathStyle {
				t.Error("an endpoint from the environment did not mean path-style")
			}
			putThrough(t, srv, client)
		})
	}
}

func TestClientFromConfiguredKeysAndEndpoint(t *testing.T) {
	srv := versitygw.Shared(t)
	isolateAWSEnv(t)
	client, err := NewClient(testContext(t), ClientConfig{Endpoint: srv.Endpoint, AccessKeyID: srv.AccessKeyID, SecretAccessKey: srv.SecretAccessKey})
	if err != nil {
		t.Fatal(err)
	}
	if o := client.Options(); !o.UsePathStyle || o.Region != DefaultRegion {
		t.Errorf("path-style %v, region %q; want path-style in %s", o.UsePathStyle, o.Region, DefaultRegion)
	}
	putThrough(t, srv, client)
	if _, err := NewClient(testContext(t), ClientConfig{AccessKeyID: "only-half"}); err == nil {
		t.Error("an access key without its secret was accepted")
	}
}

// putThrough writes an object through client into a new bucket.
func putThrough(t *testing.T, srv *versitygw.Server, client *s3.Client) {
	t.Helper()
	bucket := srv.NewBucket(t)
	dest, err := Open(Options{Root: s3url.Scheme + bucket + "/env", Client: client, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	tg := &target{srv: srv, bucket: bucket, dest: dest}
	if _, err := tg.put(t, "", "invoice.pdf", invoiceA, sink.Policy{}); err != nil {
		t.Fatal(err)
	}
	if keys := tg.keys(t); join(keys) != "env/invoice.pdf" {
		t.Fatalf("bucket holds %v", keys)
	}
}
