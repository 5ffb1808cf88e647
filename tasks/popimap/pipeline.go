package popimap

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"

	"mailtask/internal/extract"
	"mailtask/internal/mailbox"
	"mailtask/internal/state"
)

// Messages flow in three stages so that the network, the CPU and the disk
// overlap: the sessions' Fetch (over one connection or several: fetch.go)
// spools each message as it arrives, up to
// runtime.GOMAXPROCS workers parse those received, plan them and stage
// the files they write (plan in outputs.go), and the run's own goroutine
// names each message's files in message order, so that names given on
// collision ("report (1).pdf") come out the same on every run. It names
// them once the content staged for them is durable: a batch reaches it
// whole, and it makes all the batch's content durable with one sink Flush
// before naming any of it. The
// metadata sidecars, which list those names, are staged as they are
// given and named after a second Flush.
//
// Batches overlap too: the run's goroutine commits a batch once its last
// message is written, while the next batches are already arriving. The
// run's session belongs to the goroutine fetching over it, so that one
// carries out the after-actions of the batches committed so far between
// two fetches, and the run's goroutine those left at the end. Until then
// they are pending in the state, as they would be after a crash.

// job is one received message on its way through the stages, or the end
// of a batch.
type job struct {
	m     mailbox.Message
	raw   *spool
	ready chan struct{} // closed once parsed (or known)
	// Set by the worker before ready is closed.
	known  bool // the ledger shows it was taken before
	parsed *extract.Message
	err    error // unparseable
	plan   *plan // for a message parsed
	// batchEnd marks no message but the end of a batch fetched whole: the
	// messages before it since the last mark are to be committed.
	batchEnd bool
}

func (r *run) prepare(j *job) {
	defer close(j.ready)
	if r.ledger.Has(state.FingerprintOf(j.raw.sum)) {
		j.known = true
		j.raw.Close()
		return
	}
	j.parsed, j.err = j.raw.parse()
	switch {
	case j.err == nil:
		j.plan = r.plan(j.m, j.raw, j.parsed)
		// Everything the message writes is staged now (or, on a dry
		// run, only listed); only a message to quarantine keeps its
		// spool until written.
		j.raw.Close()
	case errors.Is(j.err, extract.ErrUnparseable):
		if err := j.raw.spill(r.spoolDir); err != nil {
			j.err = err // not unparseable: the run fails, naming the spool
		}
	}
}

// release frees what the job holds once it is written or abandoned.
func (j *job) release() {
	if j.plan != nil {
		j.plan.discard()
	}
	if j.raw != nil {
		j.raw.Close()
	}
}

func batchEnd() *job {
	j := &job{batchEnd: true, ready: make(chan struct{})}
	close(j.ready)
	return j
}

// delivered is one message a batch has processed, for the commit.
type delivered struct {
	m   mailbox.Message
	out fate
	fp  state.Fingerprint
}

// receive fetches msgs, batch by batch, writes their files and commits
// them. It stops early, without error, when the run is asked to stop; the
// messages received until then are committed.
func (r *run) receive(ctx context.Context, msgs []mailbox.Message) error {
	fetchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The fetching (fetch.go) bounds the messages received and not yet
	// parsed, and the batches fetched and not yet written.
	order := make(chan *job, 2*runtime.GOMAXPROCS(0))
	batches := slices.Collect(slices.Chunk(msgs, r.opts.Task.BatchSize))
	due := make(chan dueActions, len(batches)) // never blocks the committer
	var fetchErr error
	go func() {
		defer close(order)
		fetchErr = r.fetchAll(fetchCtx, batches, order, due)
	}()

	var (
		waiting []*job // the batch's messages, parsed and staged
		err     error
	)
	for j := range order {
		<-j.ready
		if err == nil {
			err = ctx.Err() // cancelled: the batch is abandoned, write no more
		}
		if err != nil {
			j.release()
			continue
		}
		if !j.batchEnd {
			waiting = append(waiting, j)
			continue
		}
		var written []delivered
		written, err = r.write(ctx, waiting)
		waiting = nil
		if err == nil {
			err = r.commitBatch(ctx, written, due)
		}
		if err != nil {
			cancel() // nothing more is written; let Fetch end
		}
	}
	for _, j := range waiting {
		j.release() // abandoned
	}
	if err != nil {
		return err
	}
	if errors.Is(fetchErr, errStopped) {
		r.sum.Stopped = true
	} else if fetchErr != nil {
		return fetchErr
	}
	return r.applyDue(ctx, due)
}

// write names the files of the jobs, in order, once one Flush has made
// the content they staged durable, and releases them. The metadata
// sidecars, staged as the other files are named, take a second Flush and
// are named last.
func (r *run) write(ctx context.Context, jobs []*job) ([]delivered, error) {
	defer func() {
		for _, j := range jobs {
			j.release()
		}
	}()
	if len(jobs) == 0 {
		return nil, nil
	}
	if err := r.flush(); err != nil {
		return nil, err
	}
	got := make([]delivered, 0, len(jobs))
	for _, j := range jobs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out, err := r.message(j)
		if err != nil {
			return nil, err
		}
		got = append(got, delivered{j.m, out, state.FingerprintOf(j.raw.sum)})
	}
	if r.out.cfg.Metadata {
		if err := r.flush(); err != nil {
			return nil, err
		}
	}
	for _, j := range jobs {
		if err := r.finish(j); err != nil {
			return nil, err
		}
		r.bytes += j.raw.size
		r.done++
		r.report()
	}
	return got, nil
}

// flush makes the content staged in the destination so far durable.
func (r *run) flush() error {
	if r.dest == nil {
		return nil
	}
	if err := r.dest.Flush(); err != nil {
		return fmt.Errorf("task %q: %w", r.opts.Task.Name, err)
	}
	return nil
}

// dueActions are the after-actions of one committed batch.
type dueActions struct{ taken, failed []mailbox.Message }

// applyDue carries out the after-actions committed and not yet carried
// out.
func (r *run) applyDue(ctx context.Context, due <-chan dueActions) error {
	for {
		select {
		case a := <-due:
			if err := r.applyAfter(ctx, a.taken, a.failed); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}
