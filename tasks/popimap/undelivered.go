package popimap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"mailtask/internal/extract"
	"mailtask/internal/mailbox"
	"mailtask/internal/state"
)

// A message the server lists but never delivers must not halt its task:
// one that a FETCH always leaves out, a RETR the server always answers
// with -ERR or by dropping the connection, would otherwise fail its batch
// on every run and hold back every message after it. And a message larger
// than the task's max_message_size is not downloaded at all. Each is kept
// aside as failed, with what there is of it, and the run takes the rest.
//
// A run that the server did not deliver a message to counts an attempt for
// it in the state (State.Undelivered) when the message itself failed: the
// server answered the fetch without it, or the connection failed while
// the message was on its way, over a session that had signed in, opened
// the folder and listed it. Nothing is counted when a run fails before
// that (a server that is down, a refused login), when the server said
// "not now" to the account (mailbox.NotNow: Gmail's bandwidth limit,
// throttling), when it is stopped or out of time, or when the failure is
// mailtask's own (a full disk). Nor
// does an attempt that Retry follows with another: a scheduled run counts
// once, in its last attempt, so that the retries of one outage, 10 s, 20 s
// and 40 s apart, count one attempt and not four. A message with an
// attempt counted is fetched last in later runs, alone in its batch: the
// others are taken first, and its failure can no longer take a batch down
// with it. After maxFetchAttempts scheduled runs it is recorded as failed.
// An outage would have to cut the connection at the end of three
// scheduled runs in a row, each time while the same message was on its
// way, to do that to a message the server could deliver.

// maxFetchAttempts is how many runs may fail to get a message before it is
// kept aside as failed.
const maxFetchAttempts = 3

// fetchFailure is a session that failed while m was on its way: the
// message being received, or else the first of the batch not delivered.
type fetchFailure struct {
	m   mailbox.Message
	err error
}

func (e *fetchFailure) Error() string { return e.err.Error() }
func (e *fetchFailure) Unwrap() error { return e.err }

// attribute returns err, from fetching batch of which got were delivered
// and inFlight was on its way, as a *fetchFailure naming the message the
// session failed on. Failures that are not the session's (a stop, the end
// of the run, a full disk) are returned as they are.
func (r *run) attribute(ctx context.Context, err error, batch []mailbox.Message, got []*job, inFlight *mailbox.Message) error {
	if err == nil || errors.Is(err, errStopped) || ctx.Err() != nil {
		return err
	}
	if tl, ok := errors.AsType[*mailbox.TooLargeError](err); ok {
		return &fetchFailure{m: tl.Msg, err: err}
	}
	if me, ok := errors.AsType[*mailbox.Error](err); !ok || me.Step != mailbox.StepFetch {
		return err
	}
	if mailbox.NotNow(err) {
		// The server refuses the account for now (a bandwidth or rate
		// limit, too many connections), whichever message it came during.
		return err
	}
	if inFlight != nil {
		return &fetchFailure{m: *inFlight, err: err}
	}
	delivered := make(map[string]bool, len(got))
	for _, j := range got {
		delivered[j.m.Key()] = true
	}
	for _, m := range batch {
		if !delivered[m.Key()] {
			return &fetchFailure{m: m, err: err}
		}
	}
	return err
}

// batchBytes bounds the bytes a batch's messages announce, beside
// batch_size. Fifty messages of several MB each were one batch of
// hundreds of MB: nothing was named or committed until the last of them
// had arrived, all of it after the transfer, and a run of one such batch
// used one connection only. A batch always holds at least one message.
const batchBytes = 64 << 20

// batches divides msgs into batches of the task's batch_size, or fewer
// messages when they announce more than batchBytes, but for the messages
// the server did not deliver in an earlier run: each of those comes last,
// in a batch of its own.
func (r *run) batches(msgs []mailbox.Message) [][]mailbox.Message {
	var (
		batches [][]mailbox.Message
		suspect []mailbox.Message
		bytes   int64
	)
	for _, m := range msgs {
		if r.st.Undelivered[m.Key()] > 0 {
			suspect = append(suspect, m)
			continue
		}
		size := max(m.Size, 0)
		if n := len(batches); n == 0 || len(batches[n-1]) == r.opts.Task.BatchSize || bytes+size > batchBytes {
			batches = append(batches, nil)
			bytes = 0
		}
		batches[len(batches)-1] = append(batches[len(batches)-1], m)
		bytes += size
	}
	for _, m := range suspect {
		batches = append(batches, []mailbox.Message{m})
	}
	return batches
}

// forgetUndelivered drops the attempts counted for messages no longer
// listed as new: gone from the server, or taken.
func forgetUndelivered(st *state.State, listed []mailbox.Message) {
	if len(st.Undelivered) == 0 {
		return
	}
	keep := make(map[string]bool, len(listed))
	for _, m := range listed {
		keep[m.Key()] = true
	}
	for key := range st.Undelivered {
		if !keep[key] {
			delete(st.Undelivered, key)
		}
	}
}

// undelivered counts a run in which the server did not deliver m (why),
// unless the run is attempted again (retried: see above) or a dry run.
// After maxFetchAttempts of them m is kept aside as failed, and lost
// returns it, to be committed; it is nil while m is to be asked for
// again.
func (r *run) undelivered(ctx context.Context, m mailbox.Message, why error, retried bool) (lost *delivered, err error) {
	if r.opts.DryRun || retried {
		return nil, nil
	}
	if r.st.Undelivered == nil {
		r.st.Undelivered = map[string]int{}
	}
	r.st.Undelivered[m.Key()]++
	n := r.st.Undelivered[m.Key()]
	if n < maxFetchAttempts {
		r.log.Warn("the server did not deliver a message; later runs ask for it again, after the others",
			"msg", m.Key(), "attempt", n, "attempts", maxFetchAttempts, "err", why)
		return nil, nil
	}
	r.log.Warn("the server did not deliver a message in any of its attempts; kept aside as failed", "msg", m.Key(), "attempts", n, "err", why)
	reason := fmt.Sprintf("the server did not deliver this message after %d attempts (the last: %v)", n, why)
	return &delivered{m: m, fate: quarantined, partial: true}, r.keepAside(ctx, m, nil, "", reason, nil)
}

// leftOut counts a run for each message of a batch the server left out
// or refused, and commits those now kept aside, with their batch. It
// returns what it committed, the after-actions then due, and an error
// naming the messages asked for again, for the run's result.
func (r *run) leftOut(ctx context.Context, missing *mailbox.NotDeliveredError) (Summary, dueActions, error, error) {
	var (
		lost    []delivered
		retried []mailbox.Message
	)
	why := missing.Reply
	if why == nil {
		why = errors.New("left out of the server's answer")
	}
	for _, m := range missing.Msgs {
		d, err := r.undelivered(ctx, m, why, r.opts.retryFollows)
		if err != nil {
			return Summary{}, dueActions{}, nil, err
		}
		if d == nil {
			retried = append(retried, m)
			continue
		}
		lost = append(lost, *d)
	}
	var again error
	if len(retried) > 0 {
		acct := r.opts.Config.Accounts[r.opts.Task.Account]
		again = &mailbox.Error{Step: mailbox.StepFetch, Addr: acct.Addr(), Transient: true,
			Err: fmt.Errorf("%w; the others were taken, these are asked for again, after %d attempts they are kept aside as failed", &mailbox.NotDeliveredError{Msgs: retried, Reply: missing.Reply}, maxFetchAttempts)}
	}
	if len(lost) == 0 {
		return Summary{}, dueActions{}, again, nil
	}
	due, err := r.commit(ctx, lost)
	if err != nil {
		return Summary{}, dueActions{}, nil, err
	}
	return tally(lost), due, again, nil
}

// fetchFailed handles the failure that ended a run's fetch: a message
// larger than announced is kept aside at once, and a message the session
// failed on counts an attempt. It returns what it committed, and the
// run's error.
func (r *run) fetchFailed(ctx context.Context, err error) (Summary, error) {
	ff, ok := errors.AsType[*fetchFailure](err)
	if !ok || r.opts.DryRun {
		return Summary{}, err
	}
	var lost *delivered
	if tl, ok := errors.AsType[*mailbox.TooLargeError](err); ok {
		r.log.Warn("a message turned out larger than max_message_size; kept aside as failed", "msg", ff.m.Key(), "max_message_size", tl.Limit)
		lost = &delivered{m: ff.m, fate: quarantined, partial: true}
		if kerr := r.keepAside(ctx, ff.m, nil, "", tooLargeReason(tl.Size, tl.Limit, "while it arrived, so nothing of it is kept"), nil); kerr != nil {
			return Summary{}, kerr
		}
		// The connection, closed rather than read the message, is opened
		// again by the next attempt, which goes on with the rest.
		acct := r.opts.Config.Accounts[r.opts.Task.Account]
		err = &mailbox.Error{Step: mailbox.StepFetch, Addr: acct.Addr(), Transient: true, Err: fmt.Errorf("%w; it is kept aside as failed", tl)}
	} else {
		var kerr error
		if lost, kerr = r.undelivered(ctx, ff.m, ff.err, r.opts.retryFollows && mailbox.IsTransient(err)); kerr != nil {
			return Summary{}, kerr
		}
	}
	if lost == nil {
		return Summary{}, err
	}
	if _, cerr := r.commit(ctx, []delivered{*lost}); cerr != nil {
		return Summary{}, cerr
	}
	return tally([]delivered{*lost}), err
}

// tooLargeReason says why a message larger than max_message_size was kept
// aside, and what of it.
func tooLargeReason(size, limit int64, kept string) string {
	return fmt.Sprintf("is larger than max_message_size (the server announced %d bytes, more than %d) and was not downloaded: %s", size, limit, kept)
}

// setAside keeps aside, as failed, the messages the server announced
// larger than max_message_size, with their header alone (up to mailbox.MaxHeader
// bytes of it), and commits them. They are never downloaded. Those whose
// header shows automatic mail the task skips are not kept aside but
// recorded as not matching: a bounce that carries back a large message
// is no failure to act on. A Microsoft 365 quarantine notice among them
// (one an admin sent with a large logo, or forwarded with attachments)
// is recognised on its header, warned of and counted: nothing else
// would, as it is never downloaded. It returns what it committed, and
// the failure actions then due.
func (r *run) setAside(ctx context.Context, msgs []mailbox.Message) (Summary, dueActions, error) {
	if len(msgs) == 0 {
		return Summary{}, dueActions{}, nil
	}
	var got []delivered
	headed := map[string]bool{}
	if hf, ok := r.sess.(mailbox.HeaderFetcher); ok {
		err := hf.FetchHeaders(ctx, msgs, func(m mailbox.Message, header io.Reader) error {
			h, err := io.ReadAll(io.LimitReader(header, mailbox.MaxHeader))
			if err != nil {
				return err
			}
			headed[m.Key()] = true
			msg, _ := extract.Parse(bytes.NewReader(h))
			notice := r.warnHeaderNotice(m, msg)
			if skip := r.automaticHeader(m, msg); skip != nil {
				got = append(got, delivered{m: m, fate: unmatched, skip: skip, notice: notice})
				return nil
			}
			d, err := r.keepTooLarge(ctx, m, h)
			d.notice = notice
			got = append(got, d)
			return err
		})
		if _, ok := errors.AsType[*mailbox.NotDeliveredError](err); !ok && err != nil {
			return Summary{}, dueActions{}, err
		}
	}
	for _, m := range msgs {
		if !headed[m.Key()] {
			d, err := r.keepTooLarge(ctx, m, nil)
			if err != nil {
				return Summary{}, dueActions{}, err
			}
			got = append(got, d)
		}
	}
	if r.opts.DryRun {
		return tally(got), dueActions{}, nil
	}
	due, err := r.commit(ctx, got)
	if err != nil {
		return Summary{}, dueActions{}, err
	}
	return tally(got), due, nil
}

// keepTooLarge keeps aside m, larger than max_message_size, with its
// header h (nil when the server sent none); a dry run only lists it.
func (r *run) keepTooLarge(ctx context.Context, m mailbox.Message, h []byte) (delivered, error) {
	limit := int64(r.opts.Task.MaxMessageSize)
	r.log.Warn("message larger than max_message_size; its header alone is kept aside", "msg", m.Key(), "size", m.Size, "max_message_size", limit)
	var err error
	switch {
	case r.opts.DryRun:
		err = r.keepAside(ctx, m, nil, "", tooLargeReason(m.Size, limit, "its header alone would be kept"), nil)
	case h != nil:
		err = r.keepAside(ctx, m, bytes.NewReader(h), ".header.eml", tooLargeReason(m.Size, limit, "its header alone is kept, in the .header.eml beside this note"), nil)
	default:
		err = r.keepAside(ctx, m, nil, "", tooLargeReason(m.Size, limit, "the server did not send its header either, so nothing of it is kept"), nil)
	}
	return delivered{m: m, fate: quarantined, partial: true}, err
}

// tooLarge divides msgs into those a run may download and those the
// server announces larger than max_message_size.
func (r *run) tooLarge(msgs []mailbox.Message) (fit, large []mailbox.Message) {
	limit := int64(r.opts.Task.MaxMessageSize)
	for _, m := range msgs {
		if m.Size > limit {
			large = append(large, m)
		} else {
			fit = append(fit, m)
		}
	}
	return fit, large
}
