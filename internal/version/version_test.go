package version

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, c := range []struct {
		name, recorded, want string
	}{
		{"installed at a version", "v1.4.0", "v1.4.0"},
		{"built in a checkout with changes", "v0.0.0-20261207094525-37241270aa12+dirty", "v0.0.0-20261207094525-37241270aa12+dirty"},
		{"built without version control information", "(devel)", "devel"},
	} {
		if got := fromBuildInfo(&debug.BuildInfo{Main: debug.Module{Version: c.recorded}}); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
