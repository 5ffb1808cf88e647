package popimap

import (
	"context"
	"errors"
	"fmt"

	"mailtask/internal/extract"
	"mailtask/internal/mailbox"
	"mailtask/internal/outcome"
	"mailtask/internal/rules"
	"mailtask/internal/state"
)

// fate is what became of one message.
type fate int

const (
	saved       fate = iota // its files are in the destination
	known                   // the ledger shows it was taken before
	quarantined             // unparseable, too large, never delivered or unfit to name; kept aside
	unmatched               // the task's rules do not select it
)

// delivered is one message a batch has written, recognised or
// quarantined, on its way to the commit.
type delivered struct {
	m    mailbox.Message
	fate fate
	fp   state.Fingerprint
	// partial: a message quarantined without its whole raw form (too
	// large, or never delivered); it has no fingerprint, and is never
	// deleted from the server, which holds the only copy.
	partial bool
	w       *writer  // the files it wrote, when taken
	hook    *hookJob // its hooks, due once its files are durable
	// skip is why it is not taken, when it is automatic mail the task
	// skips.
	skip *Skip
	// notice: it is a Microsoft 365 quarantine notice.
	notice *Notice
}

// message writes one prepared message's outputs (take), or recognises it
// as taken before, or quarantines it. Nothing is committed here.
func (r *run) message(ctx context.Context, j *job) (delivered, error) {
	d := delivered{m: j.m, fp: state.FingerprintOf(j.raw.sum)}
	var err error
	switch {
	case j.known:
		d.fate = known
		r.log.Debug("already taken", "msg", j.m.Key())
	case j.err != nil:
		// Only a message extract cannot make sense of is kept aside; a
		// spool that cannot be read back fails the run and is retried.
		if !errors.Is(j.err, extract.ErrUnparseable) {
			return d, fmt.Errorf("%s: %w", j.m.Key(), j.err)
		}
		d.fate = quarantined
		err = r.quarantine(ctx, j.m, j.raw, j.err)
	case j.plan != nil && j.plan.unfit != nil:
		r.log.Warn("message kept aside: the destination cannot hold one of its files", "msg", j.m.Key(), "reason", j.plan.unfit)
		d.fate = quarantined
		err = r.keepWhole(ctx, j.m, j.raw, fmt.Sprintf("was not taken: %v", j.plan.unfit))
	default:
		for _, p := range j.parsed.Problems {
			r.log.Debug("message defect", "msg", j.m.Key(), "problem", p)
		}
		d.fate, d.w, err = r.take(ctx, j.m, j.raw, j.parsed, j.plan)
		if d.fate == unmatched && j.plan.why == rules.RuleAutomatic {
			d.skip = r.skipAutomatic(j.m, j.parsed)
		}
		if d.notice = j.plan.notice; d.notice != nil {
			r.warnNotice(d.notice, j.parsed)
		}
	}
	return d, err
}

// written is what the messages got wrote into the destination: files
// there whether or not their batch is then committed.
func written(got []delivered) Summary {
	var sum Summary
	for _, d := range got {
		if d.w != nil {
			sum.Files += d.w.files
			sum.Bytes += outcome.Bytes(d.w.bytes)
			sum.Defects = sum.Defects.Plus(d.w.defects)
			sum.Planned = append(sum.Planned, d.w.planned...)
		}
	}
	return sum
}

// tally counts the messages got by what became of them.
func tally(got []delivered) Summary {
	var sum Summary
	for _, d := range got {
		switch d.fate {
		case saved:
			sum.Saved++
		case known:
			sum.Known++
		case quarantined:
			sum.Failed++
		case unmatched:
			sum.Unmatched++
		}
		if d.skip != nil {
			sum.Skipped = append(sum.Skipped, *d.skip)
		}
		if d.notice != nil {
			sum.Notices = append(sum.Notices, *d.notice)
		}
	}
	return sum
}
