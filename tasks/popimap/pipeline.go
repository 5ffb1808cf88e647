package popimap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"slices"

	"mailtask/internal/config"
	"mailtask/internal/extract"
	"mailtask/internal/mailbox"
	"mailtask/internal/sink"
	"mailtask/internal/state"
)

// One message's way through a run, and the function of each stage:
//
//	fetchers (fetch.go)   one per connection, under an errgroup: receive (spool the
//	   │ batch k's future       message, spool.go), then prepare it on a parse worker
//	   ▼
//	writer (process)      batch by batch, in batch order:
//	   │                    write   name the files staged, in message order (outputs.go)
//	   │                    hooks   run once the files are durable (hooks.go)
//	   │                    commit  ledger, then state
//	   ▼
//	run's session         carries out the after-actions due (fetch.go)
//
// Messages flow through these stages so that the network, the CPU and the
// disk overlap. A message is spooled as it arrives, and up to
// runtime.GOMAXPROCS parse workers prepare those received: they parse it,
// decide what it writes (plan) and stage the files it writes, written under
// no name yet. The writer names each message's files in message order, so
// that names given on collision ("report (1).pdf") come out the same on
// every run, once one sink Flush has made the content of its whole batch
// durable; files of different name families (sink.Family), which cannot
// take each other's names, may be named at once (inOrder), as many as the
// destination takes (an object store's puts wait on the store). The
// metadata sidecars, which list those names, are staged as they are given
// and named after a second Flush. Only then do the batch's hooks run, and
// the batch is committed. Batches overlap too: the writer commits a batch
// while the next ones are already arriving, and the run's session carries
// out the after-actions of the batches committed so far between two
// fetches. Until then they are pending in the state, as they would be
// after a crash.

// job is one received message on its way through the stages.
type job struct {
	m     mailbox.Message
	raw   *spool
	ready chan struct{} // closed once prepared
	prepared
}

// prepared is what a parse worker made of a message.
type prepared struct {
	known  bool // the ledger shows it was taken before
	parsed *extract.Message
	err    error // unparseable, or a spool that cannot be kept
	plan   *plan // for a message parsed
}

// parsing is what every connection of a run shares to prepare the
// messages it receives.
type parsing struct {
	// parsers bounds the messages prepared at once; unparsed, those
	// received and not yet prepared; memory, the bytes they hold.
	parsers, unparsed chan struct{}
	memory            *memory
	searched          bool // the server applied the rules' header, date and size terms (listing)
}

func newParsing(budget int64, searched bool) *parsing {
	workers := runtime.GOMAXPROCS(0)
	return &parsing{
		parsers:  make(chan struct{}, workers),
		unparsed: make(chan struct{}, 2*workers),
		memory:   newMemory(budget),
		searched: searched,
	}
}

// receive spools the message m arriving as body, and hands it to a parse
// worker: the job is ready once prepared.
func (r *run) receive(ctx context.Context, m mailbox.Message, body io.Reader, p *parsing) (*job, error) {
	select {
	case p.unparsed <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err() // the writer failed
	}
	raw, err := newSpool(ctx, r.spoolDir, body, m.Size, p.memory)
	if err != nil {
		<-p.unparsed
		if _, ok := errors.AsType[*readError](err); ok {
			acct := r.opts.Config.Accounts[r.opts.Task.Account]
			return nil, &mailbox.Error{Step: mailbox.StepFetch, Addr: acct.Addr(), Err: fmt.Errorf("%s: %w", m.Key(), err), Transient: true}
		}
		return nil, fmt.Errorf("%s: %w", m.Key(), err)
	}
	j := &job{m: m, raw: raw, ready: make(chan struct{})}
	go func() {
		p.parsers <- struct{}{}
		j.prepared = r.prepareGuarded(m, raw, p.searched)
		close(j.ready)
		<-p.parsers
		<-p.unparsed
	}()
	return j, nil
}

// prepare recognises a message taken before, or parses it and stages what
// it writes. Everything the message writes is staged then (or, on a dry
// run, only listed): only a message to quarantine keeps its spool, moved
// to disk, so that no message waiting for its batch to be written holds
// memory a message before it waits for.
func (r *run) prepare(m mailbox.Message, raw *spool, searched bool) prepared {
	// A copy kept aside whole is in the ledger, as its own message kept
	// aside (or, edited, not at all): there it is not taken yet.
	if !r.fromCopies && r.ledger.Has(state.FingerprintOf(raw.sum)) {
		raw.Close()
		return prepared{known: true}
	}
	parsed, err := raw.parse()
	if err == nil {
		err = r.sel.open(parsed)
	}
	switch {
	case err == nil:
		p := r.plan(m, raw, parsed, searched)
		if p.unfit == nil {
			raw.Close()
			return prepared{parsed: parsed, plan: p}
		}
		if err = raw.spill(r.spoolDir); err == nil {
			return prepared{parsed: parsed, plan: p}
		}
	case errors.Is(err, extract.ErrUnparseable):
		serr := raw.spill(r.spoolDir)
		if serr == nil {
			return prepared{err: err}
		}
		err = serr // not unparseable: the run fails, naming the spool
	}
	raw.Close() // the run fails on err: nothing reads the spool again
	return prepared{err: err}
}

// prepareGuarded is prepare on a parse worker of its own: a panic there
// fails the run, as on the run's goroutine, rather than the program.
func (r *run) prepareGuarded(m mailbox.Message, raw *spool, searched bool) (p prepared) {
	defer func() {
		if v := recover(); v != nil {
			p = prepared{err: Panicked(v, r.log.With("msg", m.Key()))}
		}
	}()
	return r.prepare(m, raw, searched)
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

// process fetches msgs batch by batch, writes each batch's files and
// commits it, in batch order. It stops early, without error, when the run
// is asked to stop: the messages received until then are committed. What
// was committed (on a dry run, what would have been) is in the Summary.
func (r *run) process(ctx context.Context, msgs []mailbox.Message, searched bool) (Summary, error) {
	fetchCtx, abandon := context.WithCancel(ctx)
	defer abandon()
	batches := r.batches(msgs)
	budget := r.opts.memory
	if budget == 0 {
		budget = MemoryBudget
	}
	f := r.startFetch(fetchCtx, batches, newParsing(budget, searched))
	var (
		sum      Summary
		held     []error // hook failures that held messages back
		again    []error // messages the server did not deliver, asked for again next run
		progress = Progress{Total: len(msgs)}
	)
	for k := range batches {
		b, ok := f.next(ctx, k)
		if !ok || b.err != nil && !errors.Is(b.err, errStopped) {
			break // the fetch ended before batch k: f.wait says why
		}
		got, due, heldErrs, err := r.batch(ctx, b.jobs, &progress)
		sum = sum.plus(got)
		held = append(held, heldErrs...)
		if err == nil && b.missing != nil {
			var (
				lost  Summary
				more  dueActions
				retry error
			)
			lost, more, retry, err = r.leftOut(ctx, b.missing)
			sum = sum.plus(lost)
			due.failed = append(due.failed, more.failed...)
			again = append(again, retry)
		}
		if err != nil {
			abandon() // nothing more is written: let the fetching end
			f.wait()
			return sum, err
		}
		f.written(due)
		if b.err != nil {
			break // stopped after this batch
		}
	}
	switch fetchErr := f.wait(); {
	case errors.Is(fetchErr, errStopped):
		sum.Stopped = true
	case fetchErr != nil:
		lost, err := r.fetchFailed(ctx, fetchErr)
		return sum.plus(lost), err
	case ctx.Err() != nil:
		return sum, ctx.Err()
	}
	if err := r.applyDue(ctx, f.due); err != nil {
		return sum, err
	}
	if again = slices.DeleteFunc(again, func(err error) bool { return err == nil }); len(again) > 0 {
		return sum, errors.Join(append(again, heldBack(held))...)
	}
	return sum, heldBack(held)
}

// batch writes a batch's files, runs their hooks and commits the batch. It
// returns what it committed (and the files it wrote whatever happens),
// the after-actions then due, and the failures of hooks that held messages
// back.
func (r *run) batch(ctx context.Context, jobs []*job, progress *Progress) (Summary, dueActions, []error, error) {
	if len(jobs) == 0 {
		return Summary{}, dueActions{}, nil, nil
	}
	got, err := r.write(ctx, jobs, progress)
	sum := written(got)
	if err != nil {
		return sum, dueActions{}, nil, err
	}
	if r.opts.DryRun {
		return sum.plus(tally(got)), dueActions{}, nil, nil
	}
	kept, held, err := r.runHooks(ctx, got)
	if err != nil {
		return sum, dueActions{}, nil, err
	}
	due, err := r.commit(ctx, kept)
	if err != nil {
		return sum, dueActions{}, nil, err
	}
	r.log.Debug("batch committed", "messages", len(kept))
	sum = sum.plus(tally(kept))
	sum.Held = len(held)
	sum.Committed = r.now()
	return sum, due, held, nil
}

// write names the files of the jobs once one Flush has made the content
// they staged durable, and releases them: in message order within each
// name family, up to the destination's PutsAtOnce at a time (an object
// store's puts overlap; a folder's names go one after another). The
// metadata sidecars, staged as the other files are named, take a second
// Flush and are named last. It returns what became of each message written, also
// when it fails part way: the files named so far are in the destination.
func (r *run) write(ctx context.Context, jobs []*job, progress *Progress) ([]delivered, error) {
	defer func() {
		for _, j := range jobs {
			<-j.ready
			j.release()
		}
	}()
	if len(jobs) == 0 {
		return nil, nil
	}
	for _, j := range jobs {
		<-j.ready
	}
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	all := make([]delivered, len(jobs))
	ran, err := inOrder(ctx, r.putsAtOnce(), r.names(jobs, (*plan).fileNames), func(ctx context.Context, i int) error {
		return r.guarded(func() (err error) {
			all[i], err = r.message(ctx, jobs[i])
			return err
		})()
	})
	got := make([]delivered, 0, len(jobs))
	for i, ok := range ran {
		if ok {
			got = append(got, all[i])
		}
	}
	if err != nil {
		return got, err
	}
	if r.out.cfg.Metadata {
		if err := r.flush(ctx); err != nil {
			return got, err
		}
	}
	if _, err := inOrder(ctx, r.putsAtOnce(), r.names(jobs, (*plan).sidecarNames), func(ctx context.Context, i int) error {
		return r.guarded(func() error { return r.nameSidecar(ctx, jobs[i]) })()
	}); err != nil {
		return got, err
	}
	for i, j := range jobs {
		if p := j.plan; p != nil && p.w != nil {
			got[i].hook = r.hookJob(j.m, j.parsed, p.vars, p.w)
		}
		progress.Done++
		progress.Bytes += j.raw.size
		r.report(*progress)
	}
	return got, nil
}

// putsAtOnce is how many files the writer names at once.
func (r *run) putsAtOnce() int {
	if r.dest == nil {
		return 1
	}
	return r.dest.PutsAtOnce()
}

// names returns, for each job, the keys inOrder keeps in message order:
// the name families (sink.Family) of the files names gives it, in its
// folder, so that no two files that could take the same name are named
// out of message order. A message kept aside writes into the quarantine
// folder and records its failure in the state, so those go one at a time
// (as does a file in that folder); with dedupe, where the first of two
// files of one content is kept and the second points at it, all go one
// at a time.
func (r *run) names(jobs []*job, names func(*plan) []string) [][]string {
	quarantine := QuarantineFolder(r.opts.Task.Name)
	keys := make([][]string, len(jobs))
	for i, j := range jobs {
		switch {
		case j.err != nil:
			keys[i] = []string{quarantine + "/"}
		case j.plan != nil:
			for _, name := range names(j.plan) {
				keys[i] = append(keys[i], path.Join(j.plan.rel, sink.Family(name)))
			}
			if j.plan.rel == quarantine {
				keys[i] = append(keys[i], quarantine+"/")
			}
		}
		if r.out.policy.Dedupe {
			keys[i] = append(keys[i], "")
		}
	}
	return keys
}

// flush makes the content staged in the destination so far durable.
func (r *run) flush(ctx context.Context) error {
	if r.dest == nil {
		return nil
	}
	return r.dest.Flush(ctx)
}

// commit makes a batch permanent: files durable first, then the ledger
// and the state, which also records the after-actions now due (Held).
// Only after this may the server be changed. It returns those
// after-actions.
func (r *run) commit(ctx context.Context, got []delivered) (dueActions, error) {
	var (
		due          dueActions
		fingerprints []state.Fingerprint
	)
	deleting := r.after.Failure != nil && r.after.Failure.Action == config.AfterDelete
	for _, d := range got {
		switch {
		case d.partial && deleting:
			r.log.Warn("not deleted, after_failure notwithstanding: the server holds its only whole copy", "msg", d.m.Key())
		case d.fate == quarantined:
			due.failed = append(due.failed, d.m)
		case d.fate == saved || d.fate == known:
			due.taken = append(due.taken, d.m)
		}
		// Unmatched messages stay out of the ledger: under other rules
		// they would be taken.
		if (d.fate == saved || d.fate == quarantined) && !d.partial {
			fingerprints = append(fingerprints, d.fp)
		}
	}
	if err := r.dest.Sync(ctx); err != nil {
		return dueActions{}, err
	}
	for _, d := range got {
		if r.fromCopies {
			// Its key was marked done when it was kept aside, maybe under
			// a UIDVALIDITY since gone, where it names another message now.
			r.st.DropFailure(d.m.Key())
			continue
		}
		markDone(r.st, d.m)
	}
	if r.after.Action != config.AfterNone {
		for _, m := range due.taken {
			markPending(r.st, m, false)
		}
	}
	if f := r.after.Failure; f != nil && f.Action != config.AfterNone {
		for _, m := range due.failed {
			markPending(r.st, m, true)
		}
	}
	if err := r.held.Commit(ctx, r.st, fingerprints); err != nil {
		r.uncommitted = true
		return dueActions{}, err
	}
	return due, nil
}
