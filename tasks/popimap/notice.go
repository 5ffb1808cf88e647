package popimap

import (
	"strconv"

	"mailtask/internal/extract"
	"mailtask/internal/mailbox"
	"mailtask/internal/rules"
)

// Notice is a Microsoft 365 quarantine notice a run met: the mailbox's
// provider holds mail for it that the task will never see. Held is how
// many messages the notice lists, 0 when it does not say so in words
// rules.NoticeHeld reads.
type Notice struct {
	Key  string
	Held int
}

// Describe says what the notice means, for a dry run and the log.
func (n Notice) Describe() string {
	held := "some messages"
	switch {
	case n.Held == 1:
		held = "1 message"
	case n.Held > 1:
		held = strconv.Itoa(n.Held) + " messages"
	}
	return "Microsoft 365 holds " + held + " for this mailbox in quarantine"
}

// mostHeld is the most messages one of notices says are held: each
// day's notice lists again what is still held.
func mostHeld(notices []Notice) int {
	most := 0
	for _, n := range notices {
		most = max(most, n.Held)
	}
	return most
}

// noticeOf is msg as a quarantine notice, nil when it is none. It reads
// the bodies, which the plan drops once staged: the plan asks.
func noticeOf(m mailbox.Message, msg *extract.Message) *Notice {
	n := headerNotice(m, msg)
	if n != nil {
		n.Held, _ = rules.NoticeHeld(msg.Text, msg.HTML)
	}
	return n
}

// headerNotice is the message whose header alone was read, msg, as a
// quarantine notice, nil when it is none: how many messages it says are
// held is in its body, which was not.
func headerNotice(m mailbox.Message, msg *extract.Message) *Notice {
	if !rules.QuarantineNotice(msg.From, msg.Subject) {
		return nil
	}
	return &Notice{Key: m.Key()}
}

// warnHeaderNotice is headerNotice, warned of; nil too when msg is (its
// header could not be read).
func (r *run) warnHeaderNotice(m mailbox.Message, msg *extract.Message) *Notice {
	if msg == nil {
		return nil
	}
	n := headerNotice(m, msg)
	if n != nil {
		r.warnNotice(n, msg)
	}
	return n
}

// warnNotice warns of n, msg's notice. It only warns: the message is
// taken or refused as the task's rules say, whoever wrote it.
func (r *run) warnNotice(n *Notice, msg *extract.Message) {
	r.log.Warn(n.Describe()+"; mailtask never sees mail held there, nor releases any",
		"msg", n.Key, "account", r.opts.Config.Accounts[r.opts.Task.Account].Username, "mailbox", r.opts.Task.Mailbox,
		"from", msg.From, "subject", msg.Subject,
		"hint", "review it in the Microsoft Defender portal (Email & collaboration > Review > Quarantine) or through the notice's Review link; an admin can release a held invoice, or allow its sender")
}
