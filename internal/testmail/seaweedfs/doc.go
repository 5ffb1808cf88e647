// Package seaweedfs runs a second real S3 server for tests: SeaweedFS
// (Apache 2.0), as `weed server` with its master, volume server, filer
// and S3 gateway in one process, on free loopback ports, storing
// objects appended to volume files of a temporary directory: no file
// per object, where versitygw's posix backend makes a file, its extended
// attributes and a lock file for each. It is an S3 server people run
// themselves, written apart from versitygw, so the object sink's
// conformance tests run against both, and the cluster benchmark measures
// mailtask against a store whose cost per object is not the disk's
// creating files. One server serves a test binary (Shared, stopped by
// Main) or one test (Start); each test gets a bucket of its own
// (NewBucket).
//
// The binary is built by `.ci/run` from the module .ci/seaweedfs, which
// pins Version and every dependency (seaweedfs's go.mod has a replace
// directive, which `go install module@version` refuses), into $GOBIN or
// $(go env GOPATH)/bin:
//
//	go build -C .ci/seaweedfs -o $(go env GOPATH)/bin/weed github.com/seaweedfs/seaweedfs/weed
//
// The harness looks there and in PATH and accepts only Version (its
// build information is read). Without it the tests that need it skip, or
// fail under CI=true.
package seaweedfs
