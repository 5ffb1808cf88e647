package popimap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	"mailtask/internal/extract"
	"mailtask/internal/mailbox"
	"mailtask/internal/state"
)

// A batch flows in three stages so that the network, the CPU and the disk
// overlap: the session's Fetch spools each message as it arrives, up to
// runtime.GOMAXPROCS workers parse those received, plan them and stage
// their attachments (plan in outputs.go), and the run's own goroutine
// names each message's files in message order, so that names given on
// collision ("report (1).pdf") come out the same on every run.

// job is one received message on its way through the stages.
type job struct {
	m     mailbox.Message
	raw   *spool
	ready chan struct{} // closed once parsed (or known)
	// Set by the worker before ready is closed.
	known  bool // the ledger shows it was taken before
	parsed *extract.Message
	err    error // unparseable
	plan   *plan // for a message parsed
}

func (r *run) prepare(j *job) {
	defer close(j.ready)
	if r.ledger.Has(state.FingerprintOf(j.raw.sum)) {
		j.known = true
		return
	}
	if j.parsed, j.err = j.raw.parse(); j.err == nil {
		j.plan = r.plan(j.m, j.raw, j.parsed)
	}
}

// release frees what the job holds once it is written or abandoned.
func (j *job) release() {
	if j.plan != nil {
		j.plan.discard()
	}
	j.raw.Close()
}

// delivered is one message a batch has processed, for the commit.
type delivered struct {
	m   mailbox.Message
	out outcome
	fp  state.Fingerprint
}

// receive fetches msgs and writes their files, returning the messages
// processed. It stops early, without error, when the run is asked to
// stop; the messages received until then are processed.
func (r *run) receive(ctx context.Context, msgs []mailbox.Message) ([]delivered, error) {
	workers := runtime.GOMAXPROCS(0)
	fetchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// order bounds the messages received and not yet written: each may
	// hold up to spoolMemory.
	order := make(chan *job, 2*workers)
	parsers := make(chan struct{}, workers)
	var fetchErr error
	seen := r.sum.Seen
	go func() {
		defer close(order)
		fetchErr = r.sess.Fetch(fetchCtx, msgs, func(m mailbox.Message, body io.Reader) error {
			if err := fetchCtx.Err(); err != nil {
				return err // the writer failed
			}
			raw, err := newSpool(r.spoolDir, body, m.Size)
			if err != nil {
				if _, ok := errors.AsType[*readError](err); ok {
					return &mailbox.Error{Step: mailbox.StepFetch, Err: fmt.Errorf("%s: %w", m.Key(), err), Transient: true}
				}
				return fmt.Errorf("task %q: %s: %w", r.opts.Task.Name, m.Key(), err)
			}
			j := &job{m: m, raw: raw, ready: make(chan struct{})}
			go func() {
				parsers <- struct{}{}
				r.prepare(j)
				<-parsers
			}()
			select {
			case order <- j:
			case <-fetchCtx.Done():
				<-j.ready
				j.release()
				return fetchCtx.Err()
			}
			r.fetched++
			if r.fetched < seen && r.stopRequested() {
				return errStopped
			}
			return nil
		})
	}()

	var (
		got []delivered
		err error
	)
	for j := range order {
		<-j.ready
		if err == nil {
			err = ctx.Err() // cancelled: the batch is abandoned, write no more
		}
		if err == nil {
			var out outcome
			if out, err = r.message(j); err != nil {
				cancel() // nothing more is written; let Fetch end
			} else {
				r.bytes += j.raw.size
				r.done++
				r.report()
				got = append(got, delivered{j.m, out, state.FingerprintOf(j.raw.sum)})
			}
		}
		j.release()
	}
	if err != nil {
		return nil, err
	}
	if errors.Is(fetchErr, errStopped) {
		r.sum.Stopped = true
		return got, nil // what was processed is committed
	}
	return got, fetchErr
}
