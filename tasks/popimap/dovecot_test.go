package popimap

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// dovecotConfig points a task at a real Dovecot over IMAPS.
func dovecotConfig(t *testing.T, d *dovecot.Server, taskTOML ...string) *config.Config {
	t.Helper()
	return dovecotProtocolConfig(t, d, config.ProtocolIMAP, taskTOML...)
}

// dovecotProtocolConfig points a task at a real Dovecot over IMAPS or
// POP3S.
func dovecotProtocolConfig(t *testing.T, d *dovecot.Server, protocol string, taskTOML ...string) *config.Config {
	t.Helper()
	return dovecotUserConfig(t, d, protocol, d.User, d.Password, taskTOML...)
}

// dovecotUserConfig points a task at user's mailbox on a real Dovecot.
func dovecotUserConfig(t *testing.T, d *dovecot.Server, protocol, user, password string, taskTOML ...string) *config.Config {
	t.Helper()
	return taskConfig(t, "dovecot", d.AccountTOML("dovecot", protocol, user, password), taskTOML...)
}

// taskConfig loads a configuration of one account, named account and
// given by accountTOML, and task "t" on it writing into "dest" (unless
// taskTOML, lines of the task's table, names another destination).
func taskConfig(t *testing.T, account, accountTOML string, taskTOML ...string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	dest := `destination = "dest"`
	for _, line := range taskTOML {
		if strings.HasPrefix(line, "destination") {
			dest = "" // the test's own
		}
	}
	text := `state_dir = "state"
` + accountTOML + `[[task]]
name = "t"
account = "` + account + `"
` + dest + "\n" + strings.Join(taskTOML, "\n") + "\n"
	path := filepath.Join(dir, "mailtask.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func runCfg(t *testing.T, cfg *config.Config) Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := Run(ctx, Options{Config: cfg, Task: cfg.Tasks[0]})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return sum
}

func TestDovecotIngestAndRerun(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	corpus := testmail.Generate(42, 60, 0.02)
	wantFiles := 0
	raws := make([][]byte, len(corpus))
	for i, fx := range corpus {
		raws[i] = fx.Raw
		wantFiles += len(fx.Files)
	}
	d.Seed(t, d.User, "INBOX", raws...)
	cfg := dovecotConfig(t, d)
	sum := runCfg(t, cfg)
	if sum.Seen != len(corpus) || sum.Failed != 0 {
		t.Errorf("first run: %+v", sum)
	}
	files := filesIn(t, cfg.Tasks[0].Destination)
	if len(files) != wantFiles {
		t.Errorf("%d files, want %d", len(files), wantFiles)
	}
	if again := runCfg(t, cfg); again.Seen != 0 || again.Files != 0 {
		t.Errorf("re-run: %+v", again)
	}
	if total, seen := d.Count(d.User, "INBOX"); total != len(corpus) || seen != 0 {
		t.Errorf("after = none changed the mailbox: %d messages, %d seen", total, seen)
	}
}

func TestDovecotAfterActions(t *testing.T) {
	msg := func(i int) []byte {
		return testmail.NewMessage(fmt.Sprintf("m%d", i), testmail.Attachment{Name: "scan.pdf", ContentType: "application/pdf", Content: pdf(fmt.Sprint(i))})
	}
	cases := []struct {
		after                     string
		inbox, inboxSeen, process int
	}{
		{"seen", 3, 3, 0},
		{"move", 0, 0, 3},
		{"delete", 0, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.after, func(t *testing.T) {
			user := "user-" + c.after
			d := dovecot.Start(t, dovecot.Options{Users: map[string]string{user: "pw-" + c.after}})
			d.Seed(t, user, "INBOX", msg(1), msg(2), msg(3))
			d.Seed(t, user, "Processed")
			lines := []string{`after = "` + c.after + `"`}
			if c.after == "move" {
				lines = append(lines, `move_to = "Processed"`)
			}
			cfg := dovecotConfig(t, d, lines...)
			cfg.Accounts["dovecot"].Username = user
			cfg.Accounts["dovecot"].Password = config.Secret("pw-" + c.after)
			if sum := runCfg(t, cfg); sum.Files != 3 {
				t.Fatalf("summary %+v", sum)
			}
			total, seen := d.Count(user, "INBOX")
			processed, _ := d.Count(user, "Processed")
			if total != c.inbox || seen != c.inboxSeen || processed != c.process {
				t.Errorf("inbox %d (%d seen), Processed %d; want %d (%d), %d", total, seen, processed, c.inbox, c.inboxSeen, c.process)
			}
			if n := len(filesIn(t, cfg.Tasks[0].Destination)); n != 3 {
				t.Errorf("%d files", n)
			}
		})
	}
}

func TestDovecotPOP3IngestRerunAndDelete(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	corpus := testmail.Generate(7, 40, 0.02)
	raws := make([][]byte, len(corpus))
	wantFiles := 0
	for i, fx := range corpus {
		raws[i] = fx.Raw
		wantFiles += len(fx.Files)
	}
	d.Seed(t, d.User, "INBOX", raws...)

	// The same messages over IMAPS and POP3S give the same files.
	viaIMAP := dovecotConfig(t, d)
	runCfg(t, viaIMAP)
	cfg := dovecotProtocolConfig(t, d, config.ProtocolPOP3, `after = "delete"`, `batch_size = 16`)
	sum := runCfg(t, cfg)
	if sum.Seen != len(corpus) || sum.Failed != 0 {
		t.Errorf("POP3 run: %+v", sum)
	}
	got, want := filesIn(t, cfg.Tasks[0].Destination), filesIn(t, viaIMAP.Tasks[0].Destination)
	if len(got) != wantFiles || !maps.Equal(got, want) {
		t.Errorf("POP3 wrote %d files, IMAP %d, want %d, identical", len(got), len(want), wantFiles)
	}
	if total, _ := d.Count(d.User, "INBOX"); total != 0 {
		t.Errorf("%d messages left after after = \"delete\"", total)
	}
	if again := runCfg(t, cfg); again.Seen != 0 || again.Files != 0 {
		t.Errorf("re-run: %+v", again)
	}
}

// STARTTLS on Dovecot's plain IMAP port takes the same messages as
// implicit TLS, and POP3's STLS likewise.
func TestDovecotStartTLS(t *testing.T) {
	d := dovecot.Start(t, dovecot.Options{})
	d.Seed(t, d.User, "INBOX", scan(1), scan(2))
	for _, tc := range []struct {
		protocol, addr string
	}{{config.ProtocolIMAP, d.IMAPAddr}, {config.ProtocolPOP3, d.POP3Addr}} {
		cfg := dovecotProtocolConfig(t, d, tc.protocol)
		a := cfg.Accounts["dovecot"]
		_, port, _ := strings.Cut(tc.addr, ":")
		a.TLS = config.TLSStartTLS
		a.Port, _ = strconv.Atoi(port)
		if sum := runCfg(t, cfg); sum.Saved != 2 || sum.Files != 2 {
			t.Errorf("%s over STARTTLS: %+v, want both messages and their files", tc.protocol, sum)
		}
	}
}

// A run fetches over two connections to a real Dovecot, and only its own
// connection carries out the after-action: every message is taken once,
// the files are those of a run over one connection, and every message is
// deleted (POP3) or moved (IMAP), also those the other connection fetched.
// Dovecot's log line for each session's end says what it fetched. A proxy
// makes the first fetch of each connection wait for the other's (meeting),
// so that both surely fetch, whichever is faster.
func TestDovecotFetchesOverTwoConnections(t *testing.T) {
	const user, password = "two", "two-pass"
	for _, c := range []struct {
		protocol, after string
		// fetch is in the command that fetches a batch's messages, and in
		// no command before it: the run's connection lists the mailbox
		// with a UID FETCH of sizes before any further connection opens,
		// and a meeting held there waited its whole 10 s in every run.
		fetch string
		// fetched matches the logout line of a session of user: messages
		// fetched, and for POP3 deleted.
		fetched *regexp.Regexp
	}{
		{config.ProtocolPOP3, `after = "delete"`, "RETR", regexp.MustCompile(`pop3\(` + user + `\).*Logged out .* retr=(\d+)/\d+, del=(\d+)/`)},
		{config.ProtocolIMAP, "after = \"move\"\nmove_to = \"Taken\"", "BODY.PEEK[]", regexp.MustCompile(`imap\(` + user + `\).*Logged out .* body_count=(\d+)`)},
	} {
		t.Run(c.protocol, func(t *testing.T) {
			d := dovecot.Start(t, dovecot.Options{Users: map[string]string{user: password}})
			corpus := testmail.Generate(11, 48, 0.02)
			raws := make([][]byte, len(corpus))
			for i, fx := range corpus {
				raws[i] = fx.Raw
			}
			d.Seed(t, d.User, "INBOX", raws...)
			d.Seed(t, user, "INBOX", raws...)
			d.Seed(t, user, "Taken")
			overOne := dovecotConfig(t, d, "connections = 1")
			runCfg(t, overOne)

			m := newMeeting()
			meet := func(i int) testmail.Fault {
				return testmail.Fault{Kind: testmail.FaultCall, On: c.fetch, Call: func() { m.arrive(i) }}
			}
			target := d.IMAPAddr
			if c.protocol == config.ProtocolPOP3 {
				target = d.POP3Addr
			}
			p, err := testmail.StartFaultProxy(testmail.FaultProxyOptions{Target: target, TLS: d.CA.ServerTLS, Faults: []testmail.Fault{meet(0), meet(1)}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			cfg := dovecotUserConfig(t, d, c.protocol, user, password, c.after, "batch_size = 8", "connections = 2")
			host, port, _ := net.SplitHostPort(p.Addr())
			cfg.Accounts["dovecot"].Host = host
			cfg.Accounts["dovecot"].Port, _ = strconv.Atoi(port)
			if sum := runCfg(t, cfg); sum.Seen != len(corpus) || sum.Saved != len(corpus) {
				t.Errorf("run: %+v", sum)
			}
			if got, want := filesIn(t, cfg.Tasks[0].Destination), filesIn(t, overOne.Tasks[0].Destination); !maps.Equal(got, want) {
				t.Errorf("%d files over two connections differ from %d over one", len(got), len(want))
			}
			if total, _ := d.Count(user, "INBOX"); total != 0 {
				t.Errorf("%d messages left in INBOX", total)
			}
			if c.protocol == config.ProtocolIMAP {
				if moved, _ := d.Count(user, "Taken"); moved != len(corpus) {
					t.Errorf("%d messages moved, want %d", moved, len(corpus))
				}
			}
			var fetched, deleted []int
			for _, numbers := range dovecotLogouts(t, d, c.fetched, 2) {
				fetched = append(fetched, numbers[0])
				if len(numbers) > 1 {
					deleted = append(deleted, numbers[1])
				}
			}
			if !m.met() {
				t.Error("the two connections did not both fetch")
			}
			// Which connection takes how many batches beyond the first is
			// up to their speed.
			if len(fetched) != 2 || fetched[0] == 0 || fetched[1] == 0 || fetched[0]+fetched[1] != len(corpus) {
				t.Errorf("sessions fetched %v messages, want two sessions sharing %d", fetched, len(corpus))
			}
			if c.protocol == config.ProtocolPOP3 && !slices.Equal(sortedInts(deleted), []int{0, len(corpus)}) {
				t.Errorf("sessions deleted %v messages, want one session deleting all %d", deleted, len(corpus))
			}
		})
	}
}

func sortedInts(s []int) []int {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// dovecotLogouts is, for each line of d's log that logout matches (a
// session's end), the numbers its groups capture. Dovecot logs a
// session's end once the client has gone, which may be after the run
// returned: the log is read until it holds n such lines, or for 10 s.
func dovecotLogouts(t *testing.T, d *dovecot.Server, logout *regexp.Regexp, n int) [][]int {
	t.Helper()
	var lines [][]string
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(10 * time.Second); len(lines) < n && time.Now().Before(deadline); <-poll.C {
		log, err := os.ReadFile(filepath.Join(d.Dir, "dovecot.log"))
		if err != nil {
			t.Fatal(err)
		}
		lines = logout.FindAllStringSubmatch(string(log), -1)
	}
	numbers := make([][]int, len(lines))
	for i, m := range lines {
		for _, group := range m[1:] {
			k, _ := strconv.Atoi(group)
			numbers[i] = append(numbers[i], k)
		}
	}
	return numbers
}
