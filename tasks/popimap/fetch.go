package popimap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"mailtask/internal/config"
	"mailtask/internal/diagnose"
	"mailtask/internal/mailbox"
)

// A run with more than one batch fetches them over several connections at
// once, up to the task's connections and the account's max_connections:
// its own session and others opened for the purpose. While one server
// process waits for mailtask to take a batch in, another goes on sending;
// on two cores the benchmark corpus over POP3S takes 1.00 s over two
// connections and 1.20 s over one.
//
// The connections are a fixed pool of fetchers, one per connection, under
// an errgroup. Each takes the index of the next batch nobody has taken
// from a channel, fetches it, and resolves the batch's future; the writer
// reads the futures in batch order (a reorder buffer), so batches are
// written and committed in batch order whichever connection fetched them,
// and files are named as over one connection. A connection that cannot be
// opened (a POP3 server that locks the maildrop, as RFC 1939 allows) or
// that is slow leaves its share to the others; a further connection that
// fails hands its batch's index back, and the others fetch it. Only the
// run's own session changes the mailbox: the others open it read-only,
// and the run's session carries out the after-actions of committed
// batches between its own.

// fetch is the fetching of a run's batches.
type fetch struct {
	batches [][]mailbox.Message
	// todo holds the index of each batch nobody has taken, in order, and
	// is closed; retry, those a further connection handed back.
	todo, retry chan int
	// ahead holds a slot for each batch taken and not yet written, so
	// that fetching runs at most cap(ahead) batches ahead of writing. A
	// batch handed back keeps the slot it was taken with.
	ahead chan struct{}
	// futures[k] receives batch k once it is fetched, up to a stop, or has
	// failed; a batch never fetched leaves it empty.
	futures []chan fetched
	// due receives the after-actions of each committed batch, for the
	// run's session to carry out.
	due chan dueActions
	// finish ends the taking of batches and the opening of connections,
	// once the writer needs no more.
	finish context.CancelFunc
	// ended is closed once every connection has stopped fetching, and err
	// set to why the fetch ended early, if it did.
	ended chan struct{}
	err   error
	// received counts the messages received, over every connection, out
	// of total: a stop requested after the last one stops nothing.
	received atomic.Int64
	total    int64
	parsing  *parsing
}

// fetched is one batch as a connection fetched it.
type fetched struct {
	jobs []*job
	// missing are the messages the server did not deliver, the others
	// being whole; nil when it delivered every one.
	missing *mailbox.NotDeliveredError
	err     error // why the batch ends early: errStopped, or the failure that ends the fetch
}

// dueActions are the after-actions of one committed batch.
type dueActions struct{ taken, failed []mailbox.Message }

// startFetch starts fetching batches over as many connections as the run
// may use. Messages are fetched within ctx; the fetch ends when every
// batch has been fetched and written, or early when a batch fails, the run
// is stopped or ctx ends.
func (r *run) startFetch(ctx context.Context, batches [][]mailbox.Message, p *parsing) *fetch {
	task := r.opts.Task
	connections := min(task.Connections, r.opts.Config.Accounts[task.Account].MaxConnections, len(batches))
	f := &fetch{
		batches: batches,
		todo:    make(chan int, len(batches)),
		retry:   make(chan int, len(batches)),
		ahead:   make(chan struct{}, connections+1),
		futures: make([]chan fetched, len(batches)),
		due:     make(chan dueActions, len(batches)), // never blocks the writer
		ended:   make(chan struct{}),
		parsing: p,
	}
	for k := range batches {
		f.todo <- k
		f.futures[k] = make(chan fetched, 1)
		f.total += int64(len(batches[k]))
	}
	close(f.todo)
	// Batches are taken, and further connections opened, within taking,
	// which ends when one connection ends the fetch or the writer calls
	// finish; what is being fetched then goes on within ctx.
	writing, finish := context.WithCancel(ctx)
	g, taking := errgroup.WithContext(writing)
	f.finish = finish
	g.Go(r.guarded(func() error { return r.fetchOwn(ctx, taking, f) }))
	for range connections - 1 {
		g.Go(r.guarded(func() error { return r.fetchOver(ctx, taking, f) }))
	}
	go func() {
		f.err = g.Wait()
		close(f.ended)
	}()
	return f
}

// next waits for batch k. It is false when batch k will never come: the
// fetch ended before anyone fetched it, or ctx ended.
func (f *fetch) next(ctx context.Context, k int) (fetched, bool) {
	select {
	case b := <-f.futures[k]:
		return b, true
	case <-f.ended:
		select {
		case b := <-f.futures[k]:
			return b, true
		default:
			return fetched{}, false
		}
	case <-ctx.Done():
		return fetched{}, false
	}
}

// resolve passes batch k on as a connection fetched it: whole, or up to a
// stop. A batch that failed passes on its failure alone: what was
// received of it cannot be committed in order.
func (f *fetch) resolve(k int, b fetched) {
	if b.err != nil && !errors.Is(b.err, errStopped) {
		releaseAll(b.jobs)
		b.jobs = nil
	}
	f.futures[k] <- b
}

// written frees the slot of a batch written and hands its after-actions to
// the run's session.
func (f *fetch) written(due dueActions) {
	<-f.ahead
	f.due <- due
}

// wait ends the fetch (finish), waits for every connection to stop
// fetching, releases what the batches nobody wrote still hold, and
// returns why the fetch ended early.
func (f *fetch) wait() error {
	f.finish()
	<-f.ended
	for _, future := range f.futures {
		select {
		case b := <-future:
			releaseAll(b.jobs)
		default:
		}
	}
	return f.err
}

// claim returns the next batch for a connection to fetch: one handed back
// first, else the next nobody has taken once a slot is free. It is false
// once taking ends, or for a further connection (without due) once none is
// left to take. The run's own connection (with due) waits for batches
// handed back until taking ends, carrying out meanwhile the after-actions
// due, first of all, within ctx.
func (r *run) claim(ctx, taking context.Context, f *fetch, due <-chan dueActions) (k int, ok bool, err error) {
	ahead := f.ahead
	for {
		if err := r.applyDue(ctx, due); err != nil {
			return 0, false, err
		}
		if r.stopRequested() && f.received.Load() < f.total {
			return 0, false, errStopped
		}
		select {
		case k := <-f.retry:
			return k, true, nil
		default:
		}
		select {
		case k := <-f.retry:
			return k, true, nil
		case ahead <- struct{}{}:
			if k, ok := <-f.todo; ok {
				return k, true, nil
			}
			<-f.ahead // none left: only one handed back may come
			if due == nil {
				return 0, false, nil
			}
			ahead = nil
		case a := <-due:
			if err := r.applyAfter(ctx, a.taken, a.failed); err != nil {
				return 0, false, err
			}
		case <-taking.Done():
			return 0, false, nil
		}
	}
}

// fetchOwn fetches batches over the run's own session until taking ends,
// carrying out between them the after-actions due. A failure, and a stop,
// end the fetch.
func (r *run) fetchOwn(ctx, taking context.Context, f *fetch) error {
	for {
		k, ok, err := r.claim(ctx, taking, f, f.due)
		if !ok {
			return err
		}
		b := r.fetchBatch(ctx, r.sess, f.batches[k], f)
		f.resolve(k, b)
		if b.err != nil {
			return b.err
		}
	}
}

// fetchOver opens one more connection (within taking) and fetches batches
// over it. A connection the account has not free, or that cannot be
// opened, is no error: the run's own session takes its share; one that
// fails hands its batch back.
func (r *run) fetchOver(ctx, taking context.Context, f *fetch) error {
	sess, release, ok := r.openFurther(taking)
	if !ok {
		return nil
	}
	defer release()
	defer sess.Close()
	for {
		k, ok, err := r.claim(ctx, taking, f, nil)
		if err != nil {
			return err // stopped
		}
		if !ok {
			break
		}
		b := r.fetchBatch(ctx, sess, f.batches[k], f)
		if b.err != nil && !errors.Is(b.err, errStopped) && ctx.Err() == nil {
			releaseAll(b.jobs)
			f.received.Add(-int64(len(b.jobs)))
			f.retry <- k
			r.log.Warn("a further connection failed; the others fetch its batch", "err", b.err)
			return nil
		}
		f.resolve(k, b)
		if b.err != nil {
			return b.err
		}
	}
	if err := sess.Logout(ctx); err != nil {
		r.log.Debug("logout of a further connection failed", "err", err)
	}
	return nil
}

// openFurther opens a further connection and opens the mailbox read-only
// there, within ctx: a server that makes a second login wait for the first
// session's lock would otherwise hold the run that long.
func (r *run) openFurther(ctx context.Context) (sess mailbox.Session, release func(), ok bool) {
	release = func() {}
	if more := r.opts.MoreConnections; more != nil {
		if release, ok = more(); !ok {
			r.log.Debug("fetching over fewer connections: the account's max_connections are in use")
			return nil, nil, false
		}
	}
	acct := r.opts.Config.Accounts[r.opts.Task.Account]
	sess, err := open(ctx, acct, r.cred, int64(r.opts.Task.MaxMessageSize), r.opts.TLS, r.log)
	if err != nil {
		release()
		if mailbox.NotNow(err) {
			// Nothing is lost, but a run meets it again while the cause
			// lasts, and the cause is the admin's to see: most often the
			// account's max_connections is more than the server allows,
			// but a server shutting down or an expired token say "not
			// now" too. The hint tells them apart.
			r.log.Warn("fetching over fewer connections: the server refused one more connection to this mailbox for now",
				"account", acct.Name, "max_connections", acct.MaxConnections, "connections", r.opts.Task.Connections, "err", err, "hint", diagnose.Hint(err))
		} else {
			r.log.Debug("fetching over fewer connections: another one could not be opened", "err", err)
		}
		return nil, nil, false
	}
	// Read-only, whatever the after-action: the run's session carries it out.
	uidValidity, err := sess.Select(ctx, r.opts.Task.Mailbox, mailbox.After{Action: config.AfterNone})
	if err == nil && uidValidity != r.uidValidity {
		err = fmt.Errorf("UIDVALIDITY is %d here and %d on the run's connection", uidValidity, r.uidValidity)
	}
	if err != nil {
		sess.Close()
		release()
		r.log.Debug("fetching over fewer connections: another one could not open the mailbox", "err", err)
		return nil, nil, false
	}
	return sess, release, true
}

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

// fetchBatch fetches one batch over sess and returns its messages,
// received until the fetch failed or was stopped; each goes on to be
// prepared (pipeline.go) as soon as it is received. A failure of the
// session while a message was on its way names that message
// (*fetchFailure).
func (r *run) fetchBatch(ctx context.Context, sess mailbox.Session, batch []mailbox.Message, f *fetch) fetched {
	var (
		b        fetched
		inFlight *mailbox.Message
	)
	err := sess.Fetch(ctx, batch, func(m mailbox.Message, body io.Reader) error {
		inFlight = &m
		j, err := r.receive(ctx, m, body, f.parsing)
		if err != nil {
			return err
		}
		inFlight = nil
		b.jobs = append(b.jobs, j)
		if f.received.Add(1) < f.total && r.stopRequested() {
			return errStopped
		}
		return nil
	})
	if nd, ok := errors.AsType[*mailbox.NotDeliveredError](err); ok {
		b.missing = nd
		return b
	}
	b.err = r.attribute(ctx, err, batch, b.jobs, inFlight)
	return b
}

// releaseAll frees the jobs of a batch abandoned.
func releaseAll(jobs []*job) {
	for _, j := range jobs {
		<-j.ready
		j.release()
	}
}
