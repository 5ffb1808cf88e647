package hook

import (
	"os/exec"
	"testing"
)

// A child that leaves the hook's process group (setsid) escaped the kill
// the README promises. It is found and killed too: as a descendant of the
// hook, and, once its parent has exited and it has a new one, by the
// marker in its environment.
func TestCancelKillsChildrenThatLeftTheGroup(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Fatal("tests need setsid (util-linux)")
	}
	t.Run("child of the hook", func(t *testing.T) {
		cancelOutlives(t, `setsid sh -c 'echo ready; exec sleep 300' > "$FIFO" & wait`)
	})
	t.Run("orphaned grandchild", func(t *testing.T) {
		// The middle shell exits at once: the setsid child is re-parented
		// away from the hook.
		cancelOutlives(t, `sh -c 'setsid sh -c "echo ready; exec sleep 300" > "$FIFO" &'; exec sleep 300`)
	})
}
