package popimap

import (
	"context"
	"errors"
	"fmt"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
)

// A server may refuse an after-action (a move folder over quota or
// without the right to insert, a flag it will not keep). The messages are
// taken all the same, their files safe: the refused actions stay due in
// the state, are retried first by every later run, and the run goes on
// taking mail but ends failed, naming the refusal, so that whoever runs
// it sees that the mailbox needs attention. Pending actions are cleared
// only for the messages the server confirmed, once the session has ended
// cleanly (for POP3 that is what applies the DELEs).

// applied is what the server said of the actions the run's session
// carried out: the messages whose after-action (taken), failure action
// (failed) or removal (removed) it confirmed, those whose move it copied
// and refused to remove, and its refusals. settle records it in the state
// once the session has ended.
type applied struct {
	taken, failed, removed    []mailbox.Message
	copiedTaken, copiedFailed []mailbox.Message
	refusals                  []error
}

// applyPending carries out the actions an earlier run left due.
func (r *run) applyPending(ctx context.Context) error {
	taken, failed := pending(r.st)
	removal := pendingRemoval(r.st)
	if len(taken)+len(failed)+len(removal) == 0 {
		return nil
	}
	r.log.Info("completing after-actions an earlier run left unconfirmed",
		"messages", len(taken), "after", r.after.Action, "failed_messages", len(failed), "after_failure", r.opts.Task.AfterFailure,
		"copied_messages_to_remove", len(removal))
	if err := r.applyAfter(ctx, taken, failed); err != nil {
		return err
	}
	if len(removal) == 0 {
		return nil
	}
	err := r.apply(ctx, mailbox.After{Action: config.AfterDelete}, removal)
	return r.note(err, removal, &r.applied.removed, nil, "the removal of moved messages")
}

// applyAfter carries out the after-action on the messages taken and the
// failure action on those quarantined. A refusal is noted, not returned.
func (r *run) applyAfter(ctx context.Context, taken, failed []mailbox.Message) error {
	a := &r.applied
	err := r.apply(ctx, r.after, taken)
	if err := r.note(err, taken, &a.taken, &a.copiedTaken, "after"); err != nil {
		return err
	}
	if f := r.after.Failure; f != nil {
		err := r.apply(ctx, *f, failed)
		return r.note(err, failed, &a.failed, &a.copiedFailed, "after_failure")
	}
	return nil
}

// apply carries out an action on msgs over the run's session, once it has
// made sure that the run still holds its task (Held.Confirm): a run that
// lost it to another node leaves the server to that node, which finds the
// action due in the state.
func (r *run) apply(ctx context.Context, a mailbox.After, msgs []mailbox.Message) error {
	if len(msgs) > 0 {
		if err := r.held.Confirm(ctx); err != nil {
			return err
		}
	}
	return r.sess.Apply(ctx, a, msgs)
}

// note records the outcome err of an action on msgs: the messages
// confirmed go to confirmed, those the server copied and refused to remove
// to copied. A refusal is kept for the run's result; any other error is
// returned, and leaves every message due.
func (r *run) note(err error, msgs []mailbox.Message, confirmed, copied *[]mailbox.Message, key string) error {
	var re *mailbox.RefusedError
	if err != nil && !errors.As(err, &re) {
		return err
	}
	refused := map[string]bool{}
	if re != nil {
		for _, m := range re.Msgs {
			refused[m.Key()] = true
		}
		if re.Copied && copied != nil {
			*copied = append(*copied, re.Msgs...)
		}
		r.log.Warn("the server refused an action; its messages are taken and the action stays due for the next run", "action", key, "messages", len(re.Msgs), "err", err)
		r.applied.refusals = append(r.applied.refusals, fmt.Errorf("%s: %w", key, err))
	}
	for _, m := range msgs {
		if !refused[m.Key()] {
			*confirmed = append(*confirmed, m)
		}
	}
	return nil
}

// settle records in the state what the server said of the actions, once
// the session has ended (cleanly, if confirmed), and why any are still
// due.
func (r *run) settle(confirmed bool) {
	a := r.applied
	settle(r.st, a, confirmed)
	switch {
	case len(a.refusals) > 0:
		r.st.ActionRefused = a.refusals[len(a.refusals)-1].Error()
	case r.st.Due().Total() == 0:
		r.st.ActionRefused = ""
	}
}

// refused returns the error of a run whose actions the server refused.
func (a applied) refused() error {
	if len(a.refusals) == 0 {
		return nil
	}
	return fmt.Errorf("the messages were taken, but %d action(s) were refused and stay due, retried by the next run: %w",
		len(a.refusals), errors.Join(a.refusals...))
}
