package metrics

import (
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// Limits bound what clients of /metrics and /healthz may hold: a
// monitoring system asks a few times a minute, and nothing it does needs
// more. Without them an idle keep-alive connection was kept for ever, and
// enough of them took the descriptors the runs need.
type Limits struct {
	// MaxConns is how many connections are served at once; more wait to
	// be accepted.
	MaxConns int
	// ReadHeader, Read and Write bound a request's header, the whole
	// request, and the answer; Idle how long a kept-alive connection may
	// wait for its next request.
	ReadHeader, Read, Write, Idle time.Duration
}

// DefaultLimits are the daemon's.
var DefaultLimits = Limits{
	MaxConns:   32,
	ReadHeader: 5 * time.Second,
	Read:       10 * time.Second,
	Write:      30 * time.Second,
	Idle:       60 * time.Second,
}

// Serve serves h on ln within limits, in the background, until the
// returned server is closed.
func Serve(ln net.Listener, h http.Handler, limits Limits) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: limits.ReadHeader,
		ReadTimeout:       limits.Read,
		WriteTimeout:      limits.Write,
		IdleTimeout:       limits.Idle,
		MaxHeaderBytes:    8 << 10,
	}
	go srv.Serve(netutil.LimitListener(ln, limits.MaxConns))
	return srv
}
