package popimap

import (
	"os"
	"slices"
	"strings"
	"testing"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// A dry run names the messages a run would keep aside, and why, so that
// an admin trying a task learns of a max_message_size too small or a
// message mailtask cannot read before the run deals with them; it keeps
// nothing aside and records nothing.
func TestDryRunListsWhatItWouldKeepAside(t *testing.T) {
	f := newFixture(t, testmail.IMAPOptions{}, `max_message_size = "1MiB"`, `after_failure = "delete"`)
	f.append(scan(1), large(), []byte("\r\nthis message has no header at all\r\n"))
	sum, err := Run(t.Context(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, a := range sum.Aside {
		reasons[a.Key] = a.Reason
	}
	if len(reasons) != 2 || !strings.Contains(reasons["uid:2"], "larger than max_message_size") || !strings.Contains(reasons["uid:3"], "could not be parsed") {
		t.Errorf("would keep aside %+v; want uid:2 too large and uid:3 unparseable", sum.Aside)
	}
	if len(sum.Planned) != 1 || sum.Failed != 2 {
		t.Errorf("planned %v, %s", sum.Planned, sum.Counts.Summary(true))
	}
	if len(f.srv.Messages("INBOX")) != 3 || len(f.files()) != 0 {
		t.Error("the dry run deleted mail or wrote files")
	}
	if _, err := os.Stat(QuarantineDir(f.cfg.StateDir, "t")); !os.IsNotExist(err) {
		t.Errorf("the dry run kept something aside: %v", err)
	}
	if _, err := os.Stat(state.Path(f.cfg.StateDir, "t")); !os.IsNotExist(err) {
		t.Errorf("the dry run wrote state: %v", err)
	}
	// A message kept aside before is done: a dry run does not list it.
	if sum := f.mustRun(); sum.Failed != 2 {
		t.Fatalf("run: %s", sum.Counts.Summary(false))
	}
	again, err := Run(t.Context(), Options{Config: f.cfg, Task: f.cfg.Tasks[0], DryRun: true})
	if err != nil || len(again.Aside) != 0 || !slices.Equal(again.Planned, nil) {
		t.Errorf("dry run after the run: aside %+v, planned %v, %v", again.Aside, again.Planned, err)
	}
}
