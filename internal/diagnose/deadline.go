package diagnose

import (
	"context"
	"errors"
	"net"
	"os"
)

// runDeadline reports whether err is a context's deadline that was not
// met while waiting on the network. Within a run that is the task's own
// timeout running out (its context is the only one with a deadline), most
// often in local work (writing files, hooks) or after a long but steady
// download; a server that stops answering fails instead with a network
// timeout, within the account's timeout.
func runDeadline(err error) bool {
	var oe *net.OpError
	return errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, os.ErrDeadlineExceeded) && !errors.As(err, &oe)
}

const runDeadlineHint = "The run did not finish within the task's timeout, though the server kept answering (a server that stops answering fails within the account's timeout instead). Either there was more mail than one run can take (raise the task's timeout, or set max_messages to spread it over runs), or local work was slow: a slow or full destination (a network share?), hooks close to their hook_timeout, very large messages. What was committed stays; the next run goes on from there."
