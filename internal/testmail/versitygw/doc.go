// Package versitygw runs a real S3 server for tests: the Versity S3
// Gateway (versitygw, Apache 2.0) v1.8.0 with its posix backend, keeping
// connections alive as AWS does, on a free
// loopback port, storing buckets as folders of a temporary directory and
// object metadata as their extended attributes, versitygw's default, or,
// on a filesystem without user extended attributes, in a sidecar folder
// beside them. A sidecar costs every put a folder and a file per
// attribute (checksum, ETag, content type, user metadata); where creating
// a file is dear, as on an ext4 without a journal, that was half the
// server's CPU time per put. One server serves a test binary
// (Shared, stopped by Main) or one test (Start); each test gets a bucket of
// its own (NewBucket).
//
// The binary is built by `.ci/run` with
//
//	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
//
// and found in PATH, $GOBIN or $(go env GOPATH)/bin. Only v1.8.0 is
// accepted (its build information is read): it is the version checked to
// refuse a second create-only write (If-None-Match: *) with 412, also on
// CompleteMultipartUpload, which the object sink's tests rely on. Without
// it the tests that need it skip, or fail under CI=true.
//
// SharedLegacy runs LegacyVersion (v1.0.14) instead, a release that
// ignores If-None-Match: * and replaces the object, as many stores in
// service do: the tests of what mailtask does on such a store run
// against it. `.ci/run` builds it with
//
//	GOBIN=$(go env GOPATH)/versitygw-v1.0.14/bin go install github.com/versity/versitygw/cmd/versitygw@v1.0.14
//
// and the harness takes it from there only, by its exact version.
package versitygw
