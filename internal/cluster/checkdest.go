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

	"mailtask/internal/s3url"
)

// CheckDestination asks the object store of root, an s3:// destination up
// to its first variable, for an object that is not there, as `mailtask
// check` does before any run: the answer tells whether the endpoint
// answers, the region and credentials are right and the bucket exists,
// and nothing is written. A GET, not a HEAD: the refusal of a HEAD has no
// body, so a wrong secret and a missing right would read alike. Whether
// the credentials may write is known at the first put only.
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
	if err == nil {
		out.Body.Close()
		return "bucket " + bucket + " answers", nil
	}
	var api smithy.APIError
	switch {
	case errors.As(err, &api) && api.ErrorCode() == "NoSuchKey":
		return "bucket " + bucket + " answers", nil
	case errors.As(err, &api) && api.ErrorCode() == "AccessDenied":
		// Without s3:ListBucket a missing key reads as denied: the
		// signature, and so the credentials, were taken.
		return "bucket " + bucket + " answers (these credentials may not list it: whether they may write is known at the first put)", nil
	}
	return "", fmt.Errorf("%s: %w", root, err)
}
