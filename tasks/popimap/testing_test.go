package popimap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

const (
	testUser     = "alice@example.test"
	testPassword = "app-password-123"
)

// fixture is an in-process IMAP or POP3 server and a config pointing at it.
type fixture struct {
	t        testing.TB
	srv      *testmail.IMAPServer // IMAP fixtures
	pop      *testmail.POP3Server // POP3 fixtures
	protocol string
	cfg      *config.Config
	caFile   string
	dir      string
	memory   int64 // the runs' memory budget; 0: MemoryBudget
}

// newFixture starts an IMAP server over implicit TLS and writes a config
// with one task, "t", whose keys can be overridden by taskTOML lines.
// fixtureCA is a fixture's certificate authority, its folder, and the CA
// certificate written there for the account's ca_file.
func fixtureCA(t testing.TB) (ca *testmail.CA, dir, caFile string) {
	t.Helper()
	ca, err := testmail.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if caFile, err = ca.WriteCertFile(dir); err != nil {
		t.Fatal(err)
	}
	return ca, dir, caFile
}

func newFixture(t testing.TB, opts testmail.IMAPOptions, taskTOML ...string) *fixture {
	t.Helper()
	ca, dir, caFile := fixtureCA(t)
	if opts.Username == "" {
		opts.Username, opts.Password = testUser, testPassword
	}
	if opts.TLS == nil {
		opts.TLS = ca.ServerTLS
	}
	srv, err := testmail.StartIMAP(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f := &fixture{t: t, srv: srv, protocol: config.ProtocolIMAP, caFile: caFile, dir: dir}
	tls := "implicit"
	if opts.StartTLS {
		tls = "starttls"
	}
	f.writeConfig(srv.Addr, tls, testPassword, taskTOML...)
	return f
}

func (f *fixture) writeConfig(addr, tls, password string, taskTOML ...string) {
	f.t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	dest := `destination = "dest"`
	for _, line := range taskTOML {
		if strings.HasPrefix(line, "destination") {
			dest = "" // the test's own
		}
	}
	text := `state_dir = "state"
[accounts.a]
protocol = "` + f.protocol + `"
host = "` + host + `"
port = ` + port + `
tls = "` + tls + `"
ca_file = "` + f.caFile + `"
username = "` + testUser + `"
password = "` + password + `"
timeout = "10s"
[[task]]
name = "t"
account = "a"
` + dest + "\n" + strings.Join(taskTOML, "\n") + "\n"
	path := filepath.Join(f.dir, "mailtask.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		f.t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.cfg = cfg
}

// newPOP3Fixture starts a POP3 server over implicit TLS holding msgs and
// writes a config like newFixture's.
func newPOP3Fixture(t testing.TB, opts testmail.POP3Options, msgs [][]byte, taskTOML ...string) *fixture {
	t.Helper()
	ca, dir, caFile := fixtureCA(t)
	opts.Username, opts.Password = testUser, testPassword
	opts.TLS = ca.ServerTLS
	srv, err := testmail.StartPOP3(opts, msgs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	f := &fixture{t: t, pop: srv, protocol: config.ProtocolPOP3, caFile: caFile, dir: dir}
	f.writeConfig(srv.Addr(), "implicit", testPassword, taskTOML...)
	return f
}

func (f *fixture) append(raws ...[]byte) {
	f.t.Helper()
	for _, raw := range raws {
		if _, err := f.srv.Append("INBOX", raw); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fixture) run() (Summary, error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return Run(ctx, Options{Config: f.cfg, Task: f.cfg.Tasks[0], memory: f.memory})
}

func (f *fixture) mustRun() Summary {
	f.t.Helper()
	sum, err := f.run()
	if err != nil {
		f.t.Fatalf("run: %v", err)
	}
	return sum
}

func (f *fixture) dest() string { return f.cfg.Tasks[0].Destination }

// files returns the destination's files as relative name -> sha256 hex,
// and fails the test on any leftover temp file.
func (f *fixture) files() map[string]string {
	f.t.Helper()
	return filesIn(f.t, f.dest())
}

func filesIn(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == root {
				return fs.SkipDir
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil // directories, and symlinks a test planted
		}
		rel, _ := filepath.Rel(root, path)
		if strings.HasPrefix(d.Name(), ".mailtask-tmp-") {
			t.Errorf("temp file left behind: %s", rel)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// judged is every UID st records as done or as settling (searchlag.go):
// those a run has judged, taken or not.
func judged(st *state.State) state.UIDSet {
	var set state.UIDSet
	for uid := range st.Done.All() {
		set.Add(uid)
	}
	for _, r := range st.Settling {
		set.AddRange(r.First, r.Last)
	}
	return set
}

// settlingUIDs lists the UIDs st records as settling: those of its
// ranges that are not done.
func settlingUIDs(st *state.State) []uint32 {
	var uids []uint32
	for _, r := range st.Settling {
		for uid := r.First; uid <= r.Last; uid++ {
			if !st.Done.Contains(uid) {
				uids = append(uids, uid)
			}
		}
	}
	return uids
}

// settleAtOnce has cfg's accounts record what the rules' search leaves
// out as done at once (search_settle = "0s"), for the tests of what
// follows from it, the quarantine notices found among it, against
// servers whose search does not lag; searchlag_test.go tests settling.
func settleAtOnce(cfg *config.Config) {
	for _, a := range cfg.Accounts {
		a.SearchSettle = new(config.Delay(0))
	}
}

// searchAll has cfg's accounts trust their server's search with every
// rule it can express (server_search = "all"), for the tests of that
// mode: what goes into UID SEARCH, and what a server's search lets
// through. serversearch_test.go tests the default, the flags alone.
func searchAll(cfg *config.Config) {
	for _, a := range cfg.Accounts {
		a.ServerSearch = config.ServerSearchAll
	}
}
