package state

import (
	"fmt"
	"time"
)

// NoticeKept is how long `mailtask status` and the digest show a task's
// last Microsoft 365 quarantine notice after the run that met it,
// whatever runs came after: a day, because the digest is daily, so that
// the first digest after the run shows it however often the task runs.
// Defender sends notices every four hours, daily or weekly, as the
// tenant's quarantine policies say: at the daily frequency, a notice
// still true is followed by the next as this one goes.
const NoticeKept = 24 * time.Hour

// LastNotice is the last run of a task that met Microsoft 365 quarantine
// notices: mail for its mailbox held where mailtask never sees it, which
// an admin must release.
type LastNotice struct {
	At      time.Time `json:"at"` // when the run that met them started
	Notices int       `json:"notices"`
	// Held is the most messages one of the notices says are held: each
	// day's notice lists again what is still held, so they are not
	// added. 0 when none says so in words this reads (rules.NoticeHeld),
	// or the notice was judged on its header alone.
	Held int `json:"held,omitempty"`
}

// RecordNotices keeps the notices a run started at met, held the most
// one of them says are held; it goes before the run's record replaces
// LastRun. A run that met none leaves the last notice as it was, but
// forgets it once older than NoticeKept.
func (s *State) RecordNotices(at time.Time, notices, held int) {
	if notices > 0 {
		s.LastNotice = &LastNotice{At: at, Notices: notices, Held: held}
		return
	}
	s.LastNotice = s.Notice(at)
}

// Notice is the task's last quarantine notice while it is younger than
// NoticeKept at now; nil otherwise. A state written before LastNotice
// was has the notices of its last run's record alone.
func (s *State) Notice(now time.Time) *LastNotice {
	n := s.LastNotice
	if n == nil && s.LastRun != nil && s.LastRun.QuarantineNotices > 0 {
		n = &LastNotice{At: s.LastRun.Started, Notices: s.LastRun.QuarantineNotices}
	}
	if n != nil && now.Sub(n.At) < NoticeKept {
		return n
	}
	return nil
}

// Note says, for `mailtask status` and the digest alike, when the notices
// came (the clock time in now's zone, and how long ago) and where to look.
// An admin reads it there rather than in the daemon's log.
func (n *LastNotice) Note(now time.Time) string {
	what := "a Microsoft 365 quarantine notice"
	if n.Notices > 1 {
		what = fmt.Sprintf("%d Microsoft 365 quarantine notices", n.Notices)
	}
	ago := now.Sub(n.At)
	when := fmt.Sprintf("%d min ago", int(ago.Minutes()))
	if ago >= time.Hour {
		when = fmt.Sprintf("%d h ago", int(ago.Hours()))
	}
	held := "mail for this mailbox is held"
	switch {
	case n.Held == 1:
		held = "1 message for this mailbox is held"
	case n.Held > 1:
		held = fmt.Sprintf("%d messages for this mailbox are held", n.Held)
	}
	return fmt.Sprintf("met %s at %s, %s: %s in quarantine, which mailtask never sees nor releases; "+
		"review it in the Microsoft Defender portal (Email & collaboration > Review > Quarantine)",
		what, n.At.In(now.Location()).Format("15:04"), when, held)
}
