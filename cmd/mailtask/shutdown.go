package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// shutdown is how SIGINT and SIGTERM stop the process. By default the
// first cancels the commands' context. A command that can stop gracefully
// (run, run-task) asks for gracefulStop first: then the first signal only
// closes its channel, on which runs finish and commit the message in hand
// and log out. Either way a second signal exits at once; commits are
// atomic, so that leaves at most a temporary file the next run removes.
type shutdown struct {
	ctx     context.Context
	cancel  context.CancelFunc
	stop    chan struct{}
	stderr  io.Writer
	exit    func(code int)
	signals chan os.Signal

	mu       sync.Mutex
	graceful bool
	received int
}

// handleShutdown starts handling SIGINT and SIGTERM.
func handleShutdown(stderr io.Writer) *shutdown {
	sd := newShutdown(stderr, os.Exit)
	signal.Notify(sd.signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		for sig := range sd.signals {
			sd.handle(sig)
		}
	}()
	return sd
}

func newShutdown(stderr io.Writer, exit func(int)) *shutdown {
	ctx, cancel := context.WithCancel(context.Background())
	return &shutdown{ctx: ctx, cancel: cancel, stop: make(chan struct{}), stderr: stderr, exit: exit, signals: make(chan os.Signal, 2)}
}

// release stops handling signals.
func (sd *shutdown) release() {
	signal.Stop(sd.signals)
	sd.cancel()
}

func (sd *shutdown) handle(sig os.Signal) {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	sd.received++
	switch {
	case sd.received > 1:
		fmt.Fprintf(sd.stderr, "mailtask: %v again: exiting at once\n", sig)
		sd.exit(exitFailed)
	case sd.graceful:
		close(sd.stop)
	default:
		sd.cancel()
	}
}

// gracefulStop makes the first signal close the returned channel instead
// of cancelling the context. Without signal handling (commands run
// in-process by tests) the channel is nil: never closed.
func (e *env) gracefulStop() <-chan struct{} {
	sd := e.shutdown
	if sd == nil {
		return nil
	}
	sd.mu.Lock()
	defer sd.mu.Unlock()
	sd.graceful = true
	return sd.stop
}

// announceStop logs, once stop is closed, that the run is stopping: the
// operator who pressed Ctrl-C learns that it worked and how to hurry it.
// The returned function ends the watch.
func announceStop(stop <-chan struct{}, log *slog.Logger) (done func()) {
	end := make(chan struct{})
	go func() {
		select {
		case <-stop:
			log.Info("stop requested: finishing the message in hand, then stopping (signal again to exit at once)")
		case <-end:
		}
	}()
	return func() { close(end) }
}
