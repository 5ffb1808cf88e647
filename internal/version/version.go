package version

import (
	"runtime/debug"
	"sync"
)

// String returns mailtask's version: "v1.4.0",
// "v0.0.0-20261207094525-37241270aa12" (built in a checkout at that
// commit; "+dirty" follows when it had changes not committed), or
// "devel" (built without version control information).
func String() string { return version() }

// UserAgent is the User-Agent of mailtask's own HTTP requests:
// "mailtask/" and the version.
func UserAgent() string { return "mailtask/" + version() }

var version = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return fromBuildInfo(info)
})

// fromBuildInfo is the main module's version as go build recorded it: a
// release's tag, or, built in a checkout, a pseudo-version naming the
// commit (with "+dirty" for changes not committed); "(devel)" when it
// recorded none (-buildvcs=false, no checkout).
func fromBuildInfo(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	return "devel"
}
