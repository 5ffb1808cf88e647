//go:build unix

package versitygw

import (
	"path/filepath"
	"sync"

	"mailtask/internal/testmail/child"
)

// Version is the versitygw release the harness runs.
const Version = "v1.8.0"

// LegacyVersion is the release the harness runs as a store that ignores
// the create-only condition of a put (If-None-Match: *), on PutObject
// and CompleteMultipartUpload alike, as versitygw did before its
// conditional writes (2025), and older releases of other S3 servers
// still in service do. Its binary lives apart from Version's, under
// $(go env GOPATH)/versitygw-LegacyVersion/bin.
const LegacyVersion = "v1.0.14"

const modulePath = "github.com/versity/versitygw"

// missingMessage is the skip (or, under CI, failure) message when the
// binary of version is absent.
func missingMessage(version string) string {
	if version == LegacyVersion {
		return "versitygw " + version + " not found in $(go env GOPATH)/versitygw-" + version + "/bin: GOBIN=$(go env GOPATH)/versitygw-" + version + "/bin go install " + modulePath + "/cmd/versitygw@" + version
	}
	return "versitygw " + version + " not found in PATH, $GOBIN or $(go env GOPATH)/bin: go install " + modulePath + "/cmd/versitygw@" + version
}

// binaries find the binary of each version once per test binary.
var binaries = map[string]func() (string, error){
	Version:       sync.OnceValues(func() (string, error) { return findBinary(Version) }),
	LegacyVersion: sync.OnceValues(func() (string, error) { return findBinary(LegacyVersion) }),
}

// probe finds the binary of version once per test binary.
func probe(version string) (string, error) { return binaries[version]() }

// findBinary looks where `go install` puts binaries (for LegacyVersion,
// where .ci/run puts it), and checks by its build information that it is
// versitygw at version.
func findBinary(version string) (string, error) {
	if version != LegacyVersion {
		return child.GoBinary(child.Installed("versitygw"), modulePath, version, missingMessage(version))
	}
	var candidates []string
	for _, dir := range child.GoPath() {
		candidates = append(candidates, filepath.Join(dir, "versitygw-"+version, "bin", "versitygw"))
	}
	return child.GoBinary(candidates, modulePath, version, missingMessage(version))
}
