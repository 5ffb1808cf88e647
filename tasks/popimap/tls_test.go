package popimap

import (
	"context"
	"crypto/tls"
	"sync/atomic"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/testmail"
)

// The daemon's runs of a mailbox connect to its server again and again:
// with the daemon's TLS cache, a run's connection resumes the session the
// last one got (a TLS 1.3 ticket), as Microsoft 365 allows, rather than
// verifying the server's certificate chain again; without it, none does.
func TestRunsWithATLSCacheResumeTheirSession(t *testing.T) {
	for _, cached := range []bool{false, true} {
		ca, dir, caFile := fixtureCA(t)
		var full, resumed atomic.Int32
		server := ca.ServerTLS.Clone()
		server.VerifyConnection = func(cs tls.ConnectionState) error {
			if cs.DidResume {
				resumed.Add(1)
			} else {
				full.Add(1)
			}
			return nil
		}
		srv, err := testmail.StartIMAP(testmail.IMAPOptions{Username: testUser, Password: testPassword, TLS: server})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		f := &fixture{t: t, srv: srv, protocol: config.ProtocolIMAP, caFile: caFile, dir: dir}
		f.writeConfig(srv.Addr, "implicit", testPassword)
		var cache *mailbox.TLSCache
		if cached {
			cache = mailbox.NewTLSCache()
		}
		for range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, err := Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], TLS: cache})
			cancel()
			if err != nil {
				t.Fatal(err)
			}
		}
		want := int32(0)
		if cached {
			want = 2
		}
		if resumed.Load() != want || full.Load() != 3-want {
			t.Errorf("with a TLS cache %v: %d full handshakes, %d resumed; want %d resumed of 3", cached, full.Load(), resumed.Load(), want)
		}
	}
}
