package main

import (
	"strings"
	"testing"

	"mailtask/internal/outcome"
	"mailtask/tasks/popimap"
)

// A run that met quarantine notices says so on its one line, and a dry
// run lists each with how many messages it says are held.
func TestQuarantineNoticesShown(t *testing.T) {
	sum := popimap.Summary{Task: "invoices", Counts: outcome.Counts{Seen: 2, Saved: 2},
		Notices: []popimap.Notice{{Key: "uid:7", Held: 2}, {Key: "uid:9"}}}
	if line := summaryLine(sum, false); !strings.HasSuffix(line, "; 2 quarantine notices: Microsoft 365 holds mail for this mailbox (see the warnings)") {
		t.Errorf("summary line %q", line)
	}
	sum.Notices = sum.Notices[:1]
	if line := summaryLine(sum, false); !strings.HasSuffix(line, "; a quarantine notice: Microsoft 365 holds mail for this mailbox (see the warning)") {
		t.Errorf("summary line %q", line)
	}
	sum.Notices = append(sum.Notices, popimap.Notice{Key: "uid:9"}, popimap.Notice{Key: "uid:10", Held: 1})
	var out strings.Builder
	dryRunLines(&out, sum)
	want := "quarantine notice uid:7: Microsoft 365 holds 2 messages for this mailbox in quarantine\n" +
		"quarantine notice uid:9: Microsoft 365 holds some messages for this mailbox in quarantine\n" +
		"quarantine notice uid:10: Microsoft 365 holds 1 message for this mailbox in quarantine\n"
	if out.String() != want {
		t.Errorf("dry run lists\n%s\nwant\n%s", out.String(), want)
	}
	if line := summaryLine(popimap.Summary{Task: "invoices"}, false); strings.Contains(line, "quarantine") {
		t.Errorf("a run without notices: %q", line)
	}
}
