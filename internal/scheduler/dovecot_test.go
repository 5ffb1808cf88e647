package scheduler

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
	"mailtask/tasks/popimap"
)

// The IDLE tests against a real Dovecot: the daemon's scheduler with real
// runs, on a fake clock for its re-issues, backoffs and polls. Waits for
// mail are bounded by within; none needs more than a second or two.

// dovecotIdle starts Dovecot; with noIdle its capabilities leave IDLE out,
// as an administrator can.
func dovecotIdle(t *testing.T, noIdle bool) *dovecot.Server {
	t.Helper()
	// Dovecot learns of new mail through inotify at once; where it cannot,
	// it looks every mailbox_idle_check_interval (30 s by default).
	extra := "mailbox_idle_check_interval = 1s\n"
	if noIdle {
		extra += "imap_capability = IMAP4rev1 LITERAL+ SASL-IR ENABLE UNSELECT NAMESPACE UIDPLUS MOVE\n"
	}
	return dovecot.Start(t, dovecot.Options{Extra: extra})
}

// dovecotIdleConfig is task "t" with idle on d's IMAPS port, or on addr
// (a fault proxy that speaks TLS with d's certificate) when given.
func dovecotIdleConfig(t *testing.T, d *dovecot.Server, addr string, timeout time.Duration) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mailtask.toml")
	text := d.AccountTOML("dovecot", "imap", d.User, d.Password) + "[[task]]\nname = \"t\"\naccount = \"dovecot\"\ndestination = \"dest\"\nidle = true\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Accounts["dovecot"]
	a.Timeout = config.Duration(timeout)
	if addr != "" {
		host, port, _ := net.SplitHostPort(addr)
		a.Host = host
		a.Port, _ = strconv.Atoi(port)
	}
	return cfg
}

// faultProxy puts a fault proxy speaking TLS before d's plain IMAP port.
func faultProxy(t *testing.T, d *dovecot.Server, fault testmail.Fault) *testmail.FaultProxy {
	t.Helper()
	p, err := testmail.StartFaultProxy(testmail.FaultProxyOptions{Target: d.IMAPAddr, TLS: d.CA.ServerTLS, Faults: []testmail.Fault{fault}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// idleDelivery hands out messages with one file each.
type idleDelivery struct{ n int }

func (m *idleDelivery) next() (string, []byte) {
	m.n++
	name := "dovecot-" + strconv.Itoa(m.n) + ".pdf"
	return name, testmail.PDFMessage(name)
}

// Mail delivered while the task idles, by APPEND and straight into the
// Maildir, is written within the bound.
func TestDovecotIdleTakesNewMail(t *testing.T) {
	d := dovecotIdle(t, false)
	cfg := dovecotIdleConfig(t, d, "", 20*time.Second)
	daemon := startDaemon(t, cfg, popimap.Run, nil)
	daemon.logs.waitFor(t, "INFO run", "task=t", "outcome=ok", "seen=0")
	daemon.logs.waitFor(t, "idling: waiting for new mail", "task=t")
	var m idleDelivery

	name, raw := m.next()
	d.Append(t, d.User, "INBOX", raw)
	waitFile(t, daemon, cfg, "t", name)

	name, raw = m.next()
	d.Seed(t, d.User, "INBOX", raw)
	waitFile(t, daemon, cfg, "t", name)
	if n, _ := histogram(t, daemon, "mailtask_idle_delivery_seconds", "t"); n < 2 {
		t.Errorf("%d delivery delays observed, want 2", n)
	}
}

// A connection that drops while idling is re-established after the
// backoff, and what arrived meanwhile is taken then.
func TestDovecotIdleDropIsReconnectedAndNothingMissed(t *testing.T) {
	d := dovecotIdle(t, false)
	// The first connection dies when Dovecot next writes after accepting
	// IDLE: with the EXISTS of the first message.
	p := faultProxy(t, d, testmail.Fault{Kind: testmail.FaultDrop, On: "IDLE", After: int64(len("+ idling\r\n")) + 1})
	cfg := dovecotIdleConfig(t, d, p.Addr(), 20*time.Second)
	daemon := startDaemon(t, cfg, popimap.Run, nil)
	daemon.logs.waitFor(t, "INFO run", "task=t", "outcome=ok", "seen=0")
	daemon.logs.waitFor(t, "idling: waiting for new mail", "task=t")
	var m idleDelivery

	first, raw := m.next()
	d.Append(t, d.User, "INBOX", raw)
	daemon.logs.waitFor(t, "the IDLE connection failed; reconnecting", "task=t", "dropped while idling")
	// More mail while nobody watches.
	second, raw := m.next()
	d.Append(t, d.User, "INBOX", raw)
	daemon.tick(t, 1) // the backoff
	waitFile(t, daemon, cfg, "t", first)
	waitFile(t, daemon, cfg, "t", second)
	daemon.logs.waitFor(t, "IDLE connection re-established", "task=t")
	if n := value(t, daemon.metrics, "mailtask_idle_reconnects_total", "task=t"); n != 1 {
		t.Errorf("idle_reconnects_total = %v", n)
	}
	// And the new connection idles: the next message comes by IDLE.
	third, raw := m.next()
	d.Append(t, d.User, "INBOX", raw)
	waitFile(t, daemon, cfg, "t", third)
}

// A server that stops answering is found out at the next re-issue: DONE
// goes unanswered for the account's timeout, and the watcher reconnects.
//
// The timeout bounds every wait for the server, logins included, and
// nothing but its passing can show a stall. At 1 s it failed the first
// run beside busy loops: Dovecot, loaded, answered a LOGIN 3 s after it
// came ("cannot read tag: i/o timeout"); a proxy that holds LOGIN's reply
// 1.5 s fails it every time. 10 s is what the Dovecot harness gives any
// answer (its tests' ioDeadline); the stall is then found 10 s after DONE.
func TestDovecotIdleStalledServerIsDetected(t *testing.T) {
	d := dovecotIdle(t, false)
	p := faultProxy(t, d, testmail.Fault{Kind: testmail.FaultStall, On: "DONE"})
	cfg := dovecotIdleConfig(t, d, p.Addr(), 10*time.Second)
	daemon := startDaemon(t, cfg, popimap.Run, nil)
	daemon.logs.waitFor(t, "INFO run", "task=t", "outcome=ok", "seen=0")
	daemon.logs.waitFor(t, "idling: waiting for new mail", "task=t")
	if err := daemon.clk.WaitForTimerAt(t0.Add(config.DefaultIdleReissue), within); err != nil {
		t.Fatal(err)
	}
	daemon.clk.Advance(config.DefaultIdleReissue)
	daemon.logs.waitFor(t, "the IDLE connection failed; reconnecting", "task=t", "DONE")
	var m idleDelivery
	name, raw := m.next()
	d.Append(t, d.User, "INBOX", raw)
	daemon.tick(t, 1) // the backoff
	waitFile(t, daemon, cfg, "t", name)
	daemon.logs.waitFor(t, "IDLE connection re-established", "task=t")
}

// A server without IDLE: the task is polled instead, every
// config.IdlePoll when it has no schedule, with one warning.
func TestDovecotWithoutIdleIsPolled(t *testing.T) {
	d := dovecotIdle(t, true)
	cfg := dovecotIdleConfig(t, d, "", 20*time.Second)
	daemon := startDaemon(t, cfg, popimap.Run, nil)
	daemon.logs.waitFor(t, "WARN the server does not offer IDLE; polling the task instead", "task=t", "every=5m0s")
	daemon.logs.waitFor(t, "INFO run", "task=t", "outcome=ok", "seen=0")
	var m idleDelivery
	name, raw := m.next()
	d.Append(t, d.User, "INBOX", raw)
	if err := daemon.clk.WaitForTimerAt(t0.Add(config.IdlePoll), within); err != nil {
		t.Fatal(err)
	}
	daemon.clk.Advance(config.IdlePoll)
	waitFile(t, daemon, cfg, "t", name)
	if n := daemon.logs.count("does not offer IDLE"); n != 1 {
		t.Errorf("warned %d times", n)
	}
	if n := value(t, daemon.metrics, "mailtask_idle_active", "task=t"); n != 0 {
		t.Errorf("idle_active = %v while polling", n)
	}
}
