package testmail

import (
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
)

// RedirectURL is an OAuth2 redirect URL on localhost whose port is free on
// both loopback addresses, as the sign-in's listener takes both. The port
// lies below Linux's ephemeral range (32768 and up), from which the
// kernel picks the source port of every outgoing connection and the port
// of every listener on port 0: a port from that range, free when the test
// chose it, was now and then some other connection's by the time the
// sign-in listened on it, under make test's parallel packages.
func RedirectURL(t testing.TB) string {
	t.Helper()
	for range 100 {
		port := 20000 + rand.IntN(12000)
		if free(port) {
			return fmt.Sprintf("http://localhost:%d/register_microsoft_graph_api/", port)
		}
	}
	t.Fatal("no free port below the ephemeral range on 127.0.0.1 and ::1 in 100 tries")
	return ""
}

// free reports whether port can be listened on at 127.0.0.1 and at ::1
// (where this machine has it).
func free(port int) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, host := range []string{"127.0.0.1", "::1"} {
		l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port)))
		if err != nil {
			if host == "::1" && !hasIPv6Loopback() {
				continue
			}
			return false
		}
		ls = append(ls, l)
	}
	return true
}

func hasIPv6Loopback() bool {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	l.Close()
	return true
}
