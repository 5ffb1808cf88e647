package popimap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
)

// A run with more than one batch fetches them over several connections at
// once, up to the task's connections and the account's max_connections:
// its own session and others opened for the purpose. While one server
// process waits for mailtask to take a batch in, another goes on sending;
// on two cores the benchmark corpus over POP3S takes 1.00 s over two
// connections and 1.20 s over one.
//
// Each connection takes the next batch nobody has taken, so one that
// cannot be opened (a POP3 server that locks the maildrop, as RFC 1939
// allows) or that is slow leaves its share to the others, and a further
// connection that fails hands its batch back to them. The batches are
// passed on to be written and committed in batch order, whichever
// connection fetched them, so that files are named in the same order as
// over one connection. Only the run's own session changes the mailbox:
// the others open it read-only, and the after-actions of committed
// batches are carried out by the run's session between its batches.

// fetchQueue hands the batches out to the connections and passes their
// messages on in batch order.
type fetchQueue struct {
	batches [][]mailbox.Message
	// fetched[k] receives batch k's messages once it is fetched whole or
	// up to a stop; it is closed without them when the batch failed or was
	// never taken. It has room for them, so fetching never waits for it.
	fetched []chan []*job
	// ahead holds a token for each batch taken and not yet passed on, so
	// that fetching runs at most cap(ahead) batches ahead of writing.
	ahead chan struct{}

	mu      sync.Mutex
	changed *sync.Cond // a batch was handed back or finished, or the fetch ended
	next    int        // the first batch never taken
	retry   []int      // batches handed back by a connection that failed
	taken   int        // batches being fetched
	failed  bool       // a fetch failed: take no more
}

func newFetchQueue(ctx context.Context, batches [][]mailbox.Message, connections int) *fetchQueue {
	q := &fetchQueue{batches: batches, fetched: make([]chan []*job, len(batches)), ahead: make(chan struct{}, connections+1)}
	q.changed = sync.NewCond(&q.mu)
	for k := range batches {
		q.fetched[k] = make(chan []*job, 1)
	}
	context.AfterFunc(ctx, q.broadcast)
	return q
}

func (q *fetchQueue) broadcast() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.changed.Broadcast()
}

// take returns the next batch to fetch, waiting while cap(ahead) batches
// are fetched and not passed on. ok is false when none is left to take,
// or, if wait, once none is left and none is being fetched either, since
// a batch being fetched over another connection may yet be handed back.
func (q *fetchQueue) take(ctx context.Context, wait bool) (k int, ok bool) {
	select {
	case q.ahead <- struct{}{}:
	case <-ctx.Done():
		return 0, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		switch {
		case q.failed || ctx.Err() != nil:
		case len(q.retry) > 0:
			k, q.retry = q.retry[0], q.retry[1:]
			q.taken++
			return k, true
		case q.next < len(q.batches):
			q.next++
			q.taken++
			return q.next - 1, true
		case wait && q.taken > 0:
			q.changed.Wait()
			continue
		}
		<-q.ahead
		return 0, false
	}
}

// done hands on batch k's messages, fetched whole or up to a stop.
func (q *fetchQueue) done(k int, got []*job) {
	q.fetched[k] <- got
	q.mu.Lock()
	defer q.mu.Unlock()
	q.taken--
	q.changed.Broadcast()
}

// failBatch records that batch k failed, and with it the fetch.
func (q *fetchQueue) failBatch(k int) {
	close(q.fetched[k])
	q.fail()
}

// fail records that the fetch failed: no more batches are taken.
func (q *fetchQueue) fail() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.failed = true
	q.changed.Broadcast()
}

// handBack returns batch k, which a connection failed to fetch, for
// another to take.
func (q *fetchQueue) handBack(k int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.taken--
	q.retry = append(q.retry, k)
	<-q.ahead
	q.changed.Broadcast()
}

// closeUntaken closes the batches nobody will take, once every
// connection has stopped taking them.
func (q *fetchQueue) closeUntaken() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, k := range q.retry {
		close(q.fetched[k])
	}
	q.retry = nil
	for ; q.next < len(q.batches); q.next++ {
		close(q.fetched[q.next])
	}
}

// pass passes the messages on to order, batch by batch and each batch
// followed by its end mark, until a batch that failed or was never taken:
// what follows it cannot be committed in order. It then stops the
// fetching (stop) and releases the rest.
func (q *fetchQueue) pass(ctx context.Context, order chan<- *job, stop func()) {
	k := 0
	for ; k < len(q.batches); k++ {
		got, ok := <-q.fetched[k]
		if !ok {
			break
		}
		for _, j := range append(got, batchEnd()) {
			select {
			case order <- j:
			case <-ctx.Done():
				<-j.ready
				j.release()
			}
		}
		<-q.ahead // the batch was taken
	}
	if k == len(q.batches) {
		return
	}
	stop()
	for k++; k < len(q.batches); k++ {
		releaseAll(<-q.fetched[k])
	}
}

// fetchAll fetches the batches into order, over as many connections as
// the run may use, and carries out the after-actions due between the
// batches of the run's own session.
func (r *run) fetchAll(ctx context.Context, batches [][]mailbox.Message, order chan<- *job, due <-chan dueActions) error {
	task := r.opts.Task
	connections := min(task.Connections, r.opts.Config.Accounts[task.Account].MaxConnections, len(batches))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := newFetchQueue(ctx, batches, connections)
	// parsers bounds the messages parsed at once; unparsed, those received
	// and not yet parsed, each of up to spoolMemory in memory.
	workers := runtime.GOMAXPROCS(0)
	f := &fetchers{parsers: make(chan struct{}, workers), unparsed: make(chan struct{}, 2*workers)}
	// A connection still being opened once every batch is passed on is
	// given up: a server that makes a second login wait for the first
	// session's lock would otherwise hold the run that long.
	opening, allPassed := context.WithCancel(ctx)
	defer allPassed()
	errs := make([]error, connections)
	var wg sync.WaitGroup
	for i := range connections {
		wg.Go(func() {
			if i == 0 {
				errs[i] = r.fetchBatches(ctx, r.sess, q, f, due)
				return
			}
			errs[i] = r.fetchOver(ctx, opening, q, f)
		})
	}
	go func() {
		wg.Wait()
		q.closeUntaken()
	}()
	q.pass(ctx, order, cancel)
	allPassed()
	wg.Wait()
	return fetchError(errs)
}

// fetchError picks the error fetchAll reports: a failure, or else a stop,
// over the cancellations a failure or stop caused on other connections.
func fetchError(errs []error) error {
	var stopped, cancelled error
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, errStopped):
			stopped = err
		case errors.Is(err, context.Canceled):
			cancelled = err
		default:
			return err
		}
	}
	if stopped != nil {
		return stopped
	}
	return cancelled
}

// fetchers is what the connections of a run share for the messages they
// receive.
type fetchers struct {
	parsers, unparsed chan struct{}
}

// fetchOver opens one more connection (within opening) and fetches
// batches over it. A connection the account has not free, or that cannot
// be opened, is no error: the run's own session takes its share.
func (r *run) fetchOver(ctx, opening context.Context, q *fetchQueue, f *fetchers) error {
	release := func() {}
	if more := r.opts.MoreConnections; more != nil {
		var ok bool
		if release, ok = more(); !ok {
			r.log.Debug("fetching over fewer connections: the account's max_connections are in use")
			return nil
		}
	}
	defer release()
	acct := r.opts.Config.Accounts[r.opts.Task.Account]
	sess, err := open(opening, acct, r.cred, r.log)
	if err != nil {
		r.log.Debug("fetching over fewer connections: another one could not be opened", "err", err)
		return nil
	}
	defer sess.Close()
	// Read-only, whatever the after-action: the run's session carries it out.
	uidValidity, err := sess.Select(opening, r.opts.Task.Mailbox, mailbox.After{Action: config.AfterNone})
	if err == nil && uidValidity != r.uidValidity {
		err = fmt.Errorf("UIDVALIDITY is %d here and %d on the run's connection", uidValidity, r.uidValidity)
	}
	if err != nil {
		r.log.Debug("fetching over fewer connections: another one could not open the mailbox", "err", err)
		return nil
	}
	if err := r.fetchBatches(ctx, sess, q, f, nil); err != nil {
		if errors.Is(err, errStopped) || ctx.Err() != nil {
			return err
		}
		r.log.Warn("a further connection failed; the others fetch its batch", "err", err)
		return nil
	}
	if err := sess.Logout(ctx); err != nil {
		r.log.Debug("logout of a further connection failed", "err", err)
	}
	return nil
}

// fetchBatches fetches the batches it takes from q over sess until none
// is left. Over the run's own session (due given) it carries out between
// two the after-actions due, and a failure fails the fetch; over a further
// one, the batch that failed is handed back, and the error returned ends
// only this connection.
func (r *run) fetchBatches(ctx context.Context, sess mailbox.Session, q *fetchQueue, f *fetchers, due <-chan dueActions) error {
	own := due != nil
	for {
		if r.stopRequested() {
			return errStopped
		}
		if own {
			if err := r.applyDue(ctx, due); err != nil {
				q.fail()
				return err
			}
		}
		k, ok := q.take(ctx, own)
		if !ok {
			return ctx.Err()
		}
		got, err := r.fetchBatch(ctx, sess, q.batches[k], f)
		switch {
		case err == nil || errors.Is(err, errStopped):
			q.done(k, got)
		case !own && ctx.Err() == nil:
			releaseAll(got)
			r.fetched.Add(-int64(len(got)))
			q.handBack(k)
		default:
			releaseAll(got) // what this batch received is not committed
			q.failBatch(k)
		}
		if err != nil {
			return err
		}
	}
}

// releaseAll frees the jobs of a batch abandoned.
func releaseAll(jobs []*job) {
	for _, j := range jobs {
		<-j.ready
		j.release()
	}
}

// fetchBatch fetches one batch over sess and returns its messages,
// received until the fetch failed or was stopped.
func (r *run) fetchBatch(ctx context.Context, sess mailbox.Session, batch []mailbox.Message, f *fetchers) ([]*job, error) {
	seen := int64(r.sum.Seen)
	var got []*job
	err := sess.Fetch(ctx, batch, func(m mailbox.Message, body io.Reader) error {
		select {
		case f.unparsed <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err() // the writer failed
		}
		raw, err := newSpool(r.spoolDir, body, m.Size)
		if err != nil {
			<-f.unparsed
			if _, ok := errors.AsType[*readError](err); ok {
				acct := r.opts.Config.Accounts[r.opts.Task.Account]
				return &mailbox.Error{Step: mailbox.StepFetch, Addr: acct.Addr(), Err: fmt.Errorf("%s: %w", m.Key(), err), Transient: true}
			}
			return fmt.Errorf("task %q: %s: %w", r.opts.Task.Name, m.Key(), err)
		}
		j := &job{m: m, raw: raw, ready: make(chan struct{})}
		go func() {
			f.parsers <- struct{}{}
			r.prepare(j)
			<-f.parsers
			<-f.unparsed
		}()
		got = append(got, j)
		if r.fetched.Add(1) < seen && r.stopRequested() {
			return errStopped
		}
		return nil
	})
	return got, err
}
