package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
	"mailtask/internal/testmail/dovecot"
)

// The refused-action part of the crash suite: the server refuses the
// after-action (a proxy in front of Dovecot answers every UID COPY, UID
// MOVE or UID STORE with a real server's refusal) while mailtask is
// killed again and again; each run that ends by itself fails, naming the
// refusal. Then every message must be taken exactly once with its action
// due, and once the cause is gone a run must complete the actions:
// exactly the taken messages moved (or marked), nothing else touched.

const refusedMessages = 40

type refusedScenario struct {
	name, on, reply string
	noMove          bool // Dovecot advertising UIDPLUS without MOVE (Courier's set), so moves are COPYs
	task            []string
}

func TestCrashSuiteRefusedActions(t *testing.T) {
	t.Parallel()
	kills := max(3, crashKnob(t, "MAILTASK_CRASH_KILLS", 50)/15)
	move := []string{`after = "move"`, `move_to = "Processed"`}
	scenarios := []refusedScenario{
		{"refused-copy", "UID COPY", "{tag} NO [OVERQUOTA] Quota exceeded (mailbox for user is full)", true, move},
		{"refused-move", "UID MOVE", "{tag} NO Over quota", false, move},
		{"refused-store", "UID STORE", "{tag} NO [NOPERM] Permission denied", false, []string{`after = "seen"`}},
	}
	users := map[string]string{}
	for _, sc := range scenarios {
		users[sc.name] = "pw-" + sc.name
	}
	d := dovecot.Start(t, dovecot.Options{Users: users})
	noMove := dovecot.Start(t, dovecot.Options{Users: users,
		Extra: "imap_capability = IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT CHILDREN UIDPLUS\n"})
	var raws [][]byte
	for _, fx := range testmail.Generate(719, refusedMessages, 0) {
		raws = append(raws, fx.Raw)
	}
	rng := rand.New(rand.NewPCG(0x72656673, 7))
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			srv := d
			if sc.noMove {
				srv = noMove
			}
			crashRefused(t, srv, sc, raws, kills, rng)
		})
	}
}

func crashRefused(t *testing.T, d *dovecot.Server, sc refusedScenario, raws [][]byte, kills int, rng *rand.Rand) {
	d.Seed(t, sc.name, "INBOX", raws...)
	d.Seed(t, sc.name, "Processed")
	p, err := testmail.StartFaultProxy(testmail.FaultProxyOptions{Target: d.IMAPAddr, TLS: d.CA.ServerTLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	p.Refuse(sc.on, sc.reply)
	td := refusedTaskDir(t, d, p.Addr(), sc)

	// A run of a task of its own, which the server lets change nothing,
	// counts the file-system events a whole run makes.
	_, events, _, _ := attemptMayFail(t, refusedTaskDir(t, d, p.Addr(), sc), 0)
	// Kills while the server refuses, then a run that ends by itself.
	span, struck := max(2, 2*events/kills), 0
	for {
		killAt := 0
		if struck < kills {
			killAt = 1 + rng.IntN(span)
		}
		killed, _, out, err := attemptMayFail(t, td, killAt)
		if killed {
			struck++
			continue
		}
		if err == nil || !strings.Contains(out, "refused") {
			t.Fatalf("a run while the server refuses: %v\n%s", err, out)
		}
		break
	}
	if struck == 0 {
		t.Fatalf("no kill struck in %d events", events)
	}
	t.Logf("%d kills while the server refused", struck)
	st, err := state.Load(td.state, "t")
	if err != nil {
		t.Fatal(err)
	}
	if due := st.Due().After; due != len(raws) || st.Done.Len() < uint64(len(raws)) || st.ActionRefused == "" {
		t.Fatalf("while refused: %d actions due, %d taken, refusal %q; want all %d taken and due", due, st.Done.Len(), st.ActionRefused, len(raws))
	}
	if inbox, _ := d.Count(sc.name, "INBOX"); inbox != len(raws) {
		t.Fatalf("while refused: INBOX holds %d of %d messages: a refused action cost mail", inbox, len(raws))
	}
	files := td.files(t)

	// The cause gone: kills again, then a run to completion.
	p.Refuse("", "")
	for range kills {
		if killed, _, _ := attempt(t, td, 1+rng.IntN(max(2, events/kills))); !killed {
			break
		}
	}
	if _, _, out := attempt(t, td, 0); !strings.Contains(out, "t: 0 new") {
		t.Errorf("the completing run: %s", out)
	}
	sameFiles(t, sc.name, td.files(t), files)
	st, err = state.Load(td.state, "t")
	if err != nil {
		t.Fatal(err)
	}
	if due := st.Due().Total(); due != 0 || st.ActionRefused != "" {
		t.Errorf("after the cause is gone: %d actions still due (%q)", due, st.ActionRefused)
	}
	inbox, seen := d.Count(sc.name, "INBOX")
	processed, _ := d.Count(sc.name, "Processed")
	switch sc.name {
	case "refused-store":
		if inbox != len(raws) || seen != len(raws) || processed != 0 {
			t.Errorf("INBOX %d (%d seen), Processed %d; want all %d marked seen in place", inbox, seen, processed, len(raws))
		}
	default:
		if inbox != 0 || processed != len(raws) {
			t.Errorf("INBOX %d, Processed %d; want exactly the %d taken messages moved, once each", inbox, processed, len(raws))
		}
	}
}

// refusedTaskDir is newTaskDir for a task reaching user's mailbox on d
// through the proxy at addr, over implicit TLS.
func refusedTaskDir(t *testing.T, d *dovecot.Server, addr string, sc refusedScenario) taskDir {
	t.Helper()
	dir := t.TempDir()
	text := `state_dir = "state"
` + d.AccountTOMLAt("proxied", "imap", addr, sc.name, "pw-"+sc.name) + `[[task]]
name = "t"
account = "proxied"
destination = "dest"
batch_size = 10
retries = 0
` + strings.Join(sc.task, "\n") + "\n"
	td := taskDir{dir: dir, config: filepath.Join(dir, "mailtask.toml"), state: filepath.Join(dir, "state"), dest: filepath.Join(dir, "dest")}
	if err := os.WriteFile(td.config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return td
}
