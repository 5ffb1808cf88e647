// Package s3url reads the destinations of tasks that write to an object
// store: s3://bucket/prefix/..., checked without the S3 client, so that
// the configuration can be validated on load.
package s3url

import (
	"fmt"
	"regexp"
	"strings"

	"mailtask/internal/sink"
)

// Scheme is how a destination names an object store.
const Scheme = "s3://"

// Is reports whether a task's destination is an object store's.
func Is(destination string) bool { return strings.HasPrefix(destination, Scheme) }

// bucketPattern is S3's rule for bucket names (3 to 63 lowercase letters,
// digits, dots and hyphens, starting and ending with a letter or digit).
var bucketPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// Parse splits the root of a destination (s3://bucket/prefix, the part
// before its first variable) into the bucket and the key prefix ("" for
// the bucket's top), checking both.
func Parse(root string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(root, Scheme)
	if !ok {
		return "", "", fmt.Errorf("%q is not an s3:// URL", root)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if !bucketPattern.MatchString(bucket) {
		return "", "", fmt.Errorf("%q: the bucket %q is not a bucket name (3 to 63 lowercase letters, digits, '.' and '-')", root, bucket)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		for seg := range strings.SplitSeq(prefix, "/") {
			if err := sink.CheckName(seg); err != nil {
				return "", "", fmt.Errorf("%q: the key prefix %q: segment %q: %w", root, prefix, seg, err)
			}
		}
	}
	return bucket, prefix, nil
}
