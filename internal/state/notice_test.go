package state

import (
	"strings"
	"testing"
	"time"
)

// A notice stays for NoticeKept after the run that met it, whatever runs
// came after; a later run's notices replace it; once older, the next run
// forgets it.
func TestLastNoticeKeptForADay(t *testing.T) {
	met := time.Date(2026, 12, 7, 9, 12, 0, 0, time.UTC)
	var s State
	s.RecordNotices(met, 2, 5)
	for _, later := range []time.Duration{5 * time.Minute, 3 * time.Hour, NoticeKept - time.Minute} {
		s.RecordNotices(met.Add(later), 0, 0)
		if got := s.Notice(met.Add(later)); got == nil || *got != (LastNotice{At: met, Notices: 2, Held: 5}) {
			t.Fatalf("%v after the notice, a run that met none: the notice is %+v, want the one met", later, got)
		}
	}
	if got := s.Notice(met.Add(NoticeKept)); got != nil {
		t.Errorf("a day after the notice: %+v, want none shown", got)
	}
	s.RecordNotices(met.Add(NoticeKept), 0, 0)
	if s.LastNotice != nil {
		t.Errorf("a run a day after the notice kept it: %+v", s.LastNotice)
	}
	s.RecordNotices(met, 2, 5)
	s.RecordNotices(met.Add(time.Hour), 1, 0)
	if got := s.Notice(met.Add(time.Hour)); got == nil || *got != (LastNotice{At: met.Add(time.Hour), Notices: 1}) {
		t.Errorf("a later run's notice: %+v, want it in place of the earlier", got)
	}
}

// A state written before LastNotice was keeps its last run's notices as
// the last notice, for the day after that run, across the runs after.
func TestLastNoticeOfAnOlderState(t *testing.T) {
	met := time.Date(2026, 12, 7, 9, 12, 0, 0, time.UTC)
	s := State{LastRun: &Run{Started: met, Outcome: "ok", QuarantineNotices: 3}}
	want := LastNotice{At: met, Notices: 3}
	if got := s.Notice(met.Add(time.Hour)); got == nil || *got != want {
		t.Errorf("before a run: %+v, want the last run's notices %+v", got, want)
	}
	s.RecordNotices(met.Add(2*time.Hour), 0, 0)
	s.LastRun = &Run{Started: met.Add(2 * time.Hour), Outcome: "ok"}
	if s.LastNotice == nil || *s.LastNotice != want {
		t.Errorf("after a run that met none: %+v, want the earlier run's notices kept, %+v", s.LastNotice, want)
	}
	if got := s.Notice(met.Add(NoticeKept)); got != nil {
		t.Errorf("a day after: %+v, want none", got)
	}
}

// The note says how many notices, at what time in now's zone and how
// long ago, how many messages are held when a notice said, and where to
// look.
func TestLastNoticeNote(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	met := time.Date(2026, 12, 7, 8, 12, 0, 0, time.UTC)
	for _, c := range []struct {
		n    LastNotice
		ago  time.Duration
		want string
	}{
		{LastNotice{At: met, Notices: 2, Held: 5}, 3*time.Hour + 20*time.Minute, "met 2 Microsoft 365 quarantine notices at 09:12, 3 h ago: 5 messages for this mailbox are held in quarantine, "},
		{LastNotice{At: met, Notices: 1, Held: 1}, 25 * time.Minute, "met a Microsoft 365 quarantine notice at 09:12, 25 min ago: 1 message for this mailbox is held in quarantine, "},
		{LastNotice{At: met, Notices: 1}, 23 * time.Hour, "met a Microsoft 365 quarantine notice at 09:12, 23 h ago: mail for this mailbox is held in quarantine, "},
	} {
		got := c.n.Note(met.Add(c.ago).In(paris))
		if !strings.HasPrefix(got, c.want) || !strings.HasSuffix(got, "Defender portal (Email & collaboration > Review > Quarantine)") {
			t.Errorf("%+v, %v later:\n%q\nwant it to begin\n%q\nand name the Defender portal's quarantine page", c.n, c.ago, got, c.want)
		}
	}
}
