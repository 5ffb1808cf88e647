//go:build unix

package clusterwatch

import (
	"os/exec"
	"strings"
	"testing"
)

func TestRefusedTellsTheRefusalFromOtherEnds(t *testing.T) {
	cases := []struct {
		script  string
		refused bool
	}{
		{`echo "mailtask: $0: state_store_env: cluster mode is being built: ..." >&2; exit 2`, true},
		{`echo "mailtask: $0: state_store_env: MAILTASK_CLUSTER_PROBE_DB is not set" >&2; exit 2`, false},
		{`echo "mailtask: cannot reach $MAILTASK_CLUSTER_PROBE_DB" >&2; exit 1`, false},
	}
	for _, c := range cases {
		refused, said, err := Refused(t.TempDir(), func(config string) *exec.Cmd { return exec.Command("/bin/sh", "-c", c.script, config) })
		if err != nil {
			t.Fatal(err)
		}
		if refused != c.refused || !strings.Contains(said, "cluster-probe.toml") && !strings.Contains(said, "127.0.0.1:1") {
			t.Errorf("%s: refused %v, said %q", c.script, refused, said)
		}
	}
}
