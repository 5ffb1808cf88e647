package state

import (
	"strings"
	"testing"
)

// The note counts notices, not held messages, and is empty for a run
// that met none, so that status and the digest add no line for it.
func TestNoticeNote(t *testing.T) {
	if got := (*Run)(nil).NoticeNote(); got != "" {
		t.Errorf("no run: %q, want none", got)
	}
	if got := (&Run{Outcome: "ok"}).NoticeNote(); got != "" {
		t.Errorf("a run without notices: %q, want none", got)
	}
	for n, want := range map[int]string{
		1: "last run met a Microsoft 365 quarantine notice: ",
		3: "last run met 3 Microsoft 365 quarantine notices: ",
	} {
		got := (&Run{QuarantineNotices: n}).NoticeNote()
		if !strings.HasPrefix(got, want) || !strings.Contains(got, "Defender portal (Email & collaboration > Review > Quarantine)") {
			t.Errorf("%d notices: %q, want it to begin %q and name the Defender portal's quarantine page", n, got, want)
		}
	}
}
