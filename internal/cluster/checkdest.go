package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"mailtask/internal/config"
	"mailtask/internal/objsink"
	"mailtask/internal/s3url"
)

// CheckDestination asks the object store of root, an s3:// destination up
// to its first variable, for an object that is not there, as `mailtask
// check` does before any run: the answer tells whether the endpoint
// answers, the region and credentials are right and the bucket exists.
// A GET, not a HEAD: the refusal of a HEAD has no body, so a wrong secret
// and a missing right would read alike. Then it probes the store's
// create-only puts as a run's first put does, which writes the probe's
// object (objsink.ProbeName) if it is not there yet, and then, as a
// run's first multipart upload does, its multipart uploads (which tells
// whether the credentials may write, and abort uploads): a store that
// ignores the condition fails the check unless s3_create_only is
// "check_first".
func (n *Node) CheckDestination(ctx context.Context, root string) (detail string, err error) {
	bucket, prefix, err := s3url.Parse(root)
	if err != nil {
		return "", err
	}
	client, err := n.client(ctx)
	if err != nil {
		return "", err
	}
	key := path.Join(prefix, ".mailtask-check-"+rand.Text())
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var api smithy.APIError
	switch {
	case err == nil:
		out.Body.Close()
	case errors.As(err, &api) && api.ErrorCode() == "NoSuchKey":
	case errors.As(err, &api) && api.ErrorCode() == "AccessDenied":
		// Without s3:ListBucket a missing key reads as denied: the
		// signature, and so the credentials, were taken.
	default:
		return "", fmt.Errorf("%s: %w", root, err)
	}
	puts, parts, err := objsink.Probe(ctx, client, root, n.createOnly)
	var refused *objsink.CreateOnlyError
	switch {
	case errors.As(err, &refused):
		return "", err
	case err != nil:
		return "", fmt.Errorf("%s: %w", root, err)
	}
	probe := path.Join(prefix, objsink.ProbeName)
	switch {
	case puts != objsink.Honoured:
		return fmt.Sprintf("bucket %s answers; it %s create-only puts (If-None-Match: *; probe object %s), so each put looks at its key first (s3_create_only = %q)",
			bucket, puts, probe, config.S3CreateOnlyCheckFirst), nil
	case parts != objsink.Honoured:
		return fmt.Sprintf("bucket %s answers and honours create-only puts, but %s the condition on multipart uploads (probe object %s), so each put of a large file looks at its key first (s3_create_only = %q)",
			bucket, parts, probe, config.S3CreateOnlyCheckFirst), nil
	}
	return fmt.Sprintf("bucket %s answers and honours create-only puts, multipart uploads too (probe object %s)", bucket, probe), nil
}
