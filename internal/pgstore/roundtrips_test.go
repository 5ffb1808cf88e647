package pgstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailtask/internal/state"
)

// roundTrips counts the round trips the clients of a proxy in front of
// the database make: the Syncs of the extended protocol, each of which
// ends a batch, and the queries of the simple protocol but pgx's pings of
// connections that sat idle in the pool, which come when they please.
type roundTrips struct{ n atomic.Int64 }

// countRoundTrips returns the URL of such a proxy to the database at
// rawURL (whose server speaks no TLS: sslmode=disable), and its count.
func countRoundTrips(t *testing.T, rawURL string) (string, *roundTrips) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, target := &roundTrips{}, u.Host
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			wg.Go(func() { io.Copy(client, server); client.Close() })
			wg.Go(func() { p.forward(client, server); server.Close() })
		}
	})
	// Registered before the stores the test opens, this runs after they
	// have closed their connections.
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	u.Host = ln.Addr().String()
	return u.String(), p
}

// forward copies the client's messages to the server, counting.
func (p *roundTrips) forward(client, server net.Conn) {
	r := bufio.NewReader(client)
	// The startup message comes without a type byte.
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return
	}
	startup := make([]byte, binary.BigEndian.Uint32(size[:])-4)
	if _, err := io.ReadFull(r, startup); err != nil {
		return
	}
	if _, err := server.Write(append(size[:], startup...)); err != nil {
		return
	}
	for {
		var head [5]byte // type, then length with itself
		if _, err := io.ReadFull(r, head[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(head[1:])-4)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		switch {
		case head[0] == 'S', head[0] == 'Q' && !bytes.HasPrefix(body, []byte("-- ping")):
			p.n.Add(1)
		}
		if _, err := server.Write(append(head[:], body...)); err != nil {
			return
		}
	}
}

// during returns the round trips f makes.
func (p *roundTrips) during(f func()) int64 {
	before := p.n.Load()
	f()
	return p.n.Load() - before
}

// A commit is one round trip, the fence and all it writes, whether it
// takes messages (Commit) or ends a run (CommitRun): on a node that runs
// thousands of tasks, each round trip of a run is CPU in the node and in
// the database. Each is done twice, and the second counted, so that the
// statements are prepared on the store's one connection by then.
func TestACommitIsOneRoundTrip(t *testing.T) {
	url, trips := countRoundTrips(t, migratedDB(t))
	ctx := testContext(t)
	s, err := Open(ctx, Options{URL: url, Node: "counted", MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l := claim(t, s, "t", time.Hour)
	st, _, err := l.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		st.UIDLs.Add(fmt.Sprint("uidl-", i))
		fps := []state.Fingerprint{{byte(i + 1)}}
		if n := trips.during(func() { err = l.Commit(ctx, st, fps) }); err != nil || i == 1 && n != 1 {
			t.Fatalf("commit %d: %d round trips, %v; want 1", i, n, err)
		}
	}
	for i := range 2 {
		st.LastRun = &state.Run{Started: time.Now(), Outcome: "ok"}
		if n := trips.during(func() { err = l.CommitRun(ctx, st, *st.LastRun) }); err != nil || i == 1 && n != 1 {
			t.Fatalf("run's commit %d: %d round trips, %v; want 1", i, n, err)
		}
	}
	if got := count(t, url, "SELECT count(*) FROM ledger WHERE task = 't'"); got != 2 {
		t.Fatalf("%d fingerprints committed, want 2", got)
	}
	if got := count(t, url, "SELECT count(*) FROM runs WHERE task = 't'"); got != 2 {
		t.Fatalf("%d runs recorded, want 2", got)
	}
}
