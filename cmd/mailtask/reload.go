package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// reloadPath is where the daemon's listener takes a reload, as SIGHUP
// does, for a pod whose image has no kill: from a sidecar that watches
// the configuration (configmap-reload), or from `mailtask reload` run
// beside the daemon (kubectl exec). It answers from loopback addresses
// alone, so that a reload is asked for on the machine, as a signal is.
const reloadPath = "/-/reload"

// reloadTimeout bounds a reload as `mailtask reload` waits for it: in
// cluster mode it registers the tasks in the database, for up to a minute.
const reloadTimeout = 2 * time.Minute

// reloadAsk is one reload asked for over HTTP: the daemon's main loop
// reloads and sends back what became of it.
type reloadAsk chan reloadAnswer

// reloadAnswer is a reload's outcome: applied (ok, summary) or refused,
// the running configuration kept (err).
type reloadAnswer struct {
	summary string
	err     error
}

// withReload serves POST reloadPath beside h, handing each reload to the
// main loop through asks.
func withReload(h http.Handler, asks chan<- reloadAsk) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("POST "+reloadPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !fromLoopback(r.RemoteAddr) {
			http.Error(w, "a reload is taken from this machine only (a loopback address); send the daemon SIGHUP, or run `mailtask reload` beside it", http.StatusForbidden)
			return
		}
		// A reload in cluster mode may wait up to a minute for the
		// database, past the listener's write timeout for the metrics.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(reloadTimeout))
		ask := make(reloadAsk, 1)
		select {
		case asks <- ask:
		case <-r.Context().Done():
			return
		}
		select {
		case a := <-ask:
			if a.err != nil {
				http.Error(w, "the new configuration is invalid; keeping the running one: "+a.err.Error(), http.StatusUnprocessableEntity)
				return
			}
			fmt.Fprintln(w, a.summary)
		case <-r.Context().Done():
		}
	})
	return mux
}

func fromLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// reloadFlags declares `mailtask reload`, which asks the daemon of the
// configuration to reload it, over its listener.
func reloadFlags(fs *flag.FlagSet) runFunc {
	cfgPath := configFlag(fs)
	return func(ctx context.Context, e *env, _ []string) error {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			// What the daemon would refuse too: it keeps running the
			// configuration it has.
			return err
		}
		addr, err := reloadAddr(cfg.Listen)
		if err != nil {
			return usageError{fmt.Sprintf("%s: listen: %v", cfg.File, err)}
		}
		ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+reloadPath, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("ask the daemon at %s to reload (listen in %s; the daemon reads it when it starts): %w", addr, cfg.File, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return fmt.Errorf("the daemon at %s: %w", addr, err)
		}
		text := strings.TrimSpace(string(body))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("the daemon at %s: %s", addr, text)
		}
		fmt.Fprintln(e.stdout, text)
		return nil
	}
}

// reloadAddr is where `mailtask reload` finds the daemon that listens on
// listen: on this machine, at a loopback address.
func reloadAddr(listen string) (string, error) {
	if listen == "" {
		return "", fmt.Errorf(`not set, so the daemon takes no reload but SIGHUP: set e.g. listen = "127.0.0.1:9464" (read when the daemon starts)`)
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	ip := net.ParseIP(host)
	switch {
	case host == "" || ip != nil && ip.IsUnspecified():
		host = "localhost"
	case host == "localhost" || ip != nil && ip.IsLoopback():
	default:
		return "", fmt.Errorf("%q is not a loopback address, and the daemon takes a reload from loopback addresses only: listen on 127.0.0.1 or on every interface (%q), or send the daemon SIGHUP", host, ":"+port)
	}
	return net.JoinHostPort(host, port), nil
}
