package state

import "fmt"

// NoticeNote says, for `mailtask status` and the digest alike, that the
// run met Microsoft 365 quarantine notices and where to look; "" when it
// met none. An admin reads it there rather than in the daemon's log.
func (r *Run) NoticeNote() string {
	what := "a Microsoft 365 quarantine notice"
	switch {
	case r == nil || r.QuarantineNotices == 0:
		return ""
	case r.QuarantineNotices > 1:
		what = fmt.Sprintf("%d Microsoft 365 quarantine notices", r.QuarantineNotices)
	}
	return "last run met " + what + ": mail for this mailbox is held in quarantine, which mailtask never sees nor releases; " +
		"review it in the Microsoft Defender portal (Email & collaboration > Review > Quarantine)"
}
