package main

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"mailtask/internal/state"
	"mailtask/internal/testmail"
)

// What the cluster chaos test asserts once the chaos is over, as pure
// functions of what it collected, so that each can be shown to fail on
// the fault it is there to catch (TestClusterChecksCatchTheirFaults).

// sentMessage is one message the chaos test appended to a mailbox.
type sentMessage struct {
	uid uint32
	sum [32]byte // SHA-256 of the raw message
}

// fingerprint is what the ledger records of the message.
func (m sentMessage) fingerprint() state.Fingerprint { return state.FingerprintOf(m.sum) }

// ledgerProblems checks that every message sent to each mailbox is in
// its task's ledger or quarantined (by UID), and that the ledger holds
// nothing else.
func ledgerProblems(sent map[string][]sentMessage, ledger map[string]map[state.Fingerprint]bool, quarantined map[string]map[uint32]bool) []string {
	var problems []string
	for _, box := range slices.Sorted(maps.Keys(sent)) {
		want := map[state.Fingerprint]bool{}
		for _, m := range sent[box] {
			fp := m.fingerprint()
			want[fp] = true
			if !ledger[box][fp] && !quarantined[box][m.uid] {
				problems = append(problems, fmt.Sprintf("%s: message UID %d is neither in the ledger nor quarantined", box, m.uid))
			}
		}
		for fp := range ledger[box] {
			if !want[fp] {
				problems = append(problems, fmt.Sprintf("%s: the ledger holds %x, which was never sent", box, fp))
			}
		}
	}
	return problems
}

// moveProblems checks what the server holds once every task has run:
// nothing left in INBOX, and in the move folder every message sent
// exactly once (two nodes moving one message leave two copies) and
// nothing else. inbox and moved list the SHA-256 of each message a
// folder holds.
func moveProblems(sent map[string][]sentMessage, inbox, moved map[string][][32]byte) []string {
	var problems []string
	for _, box := range slices.Sorted(maps.Keys(sent)) {
		if n := len(inbox[box]); n > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d messages left in INBOX", box, n))
		}
		copies := map[[32]byte]int{}
		for _, sum := range moved[box] {
			copies[sum]++
		}
		for _, m := range sent[box] {
			if n := copies[m.sum]; n != 1 {
				problems = append(problems, fmt.Sprintf("%s: message UID %d is in the move folder %d times, want once", box, m.uid, n))
			}
			delete(copies, m.sum)
		}
		for range copies {
			problems = append(problems, fmt.Sprintf("%s: the move folder holds a message never sent", box))
		}
	}
	return problems
}

// objectProblems compares the objects (key below the prefix -> SHA-256)
// with the files of the clean run (path below its destination ->
// SHA-256): the same names, the same content, nothing else. An extra key
// with a collision suffix (" (1)") is a second copy a node wrote; the
// chaos test's unique attachment names never need one.
func objectProblems(got, want map[string]string) []string {
	var problems []string
	for _, key := range slices.Sorted(maps.Keys(got)) {
		w, ok := want[key]
		switch {
		case !ok && collisionSuffix.MatchString(key):
			problems = append(problems, fmt.Sprintf("%s: a second copy, under a collision suffix", key))
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: not written by a clean run", key))
		case w != got[key]:
			problems = append(problems, fmt.Sprintf("%s: other content than in a clean run", key))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(want)) {
		if _, ok := got[key]; !ok {
			problems = append(problems, fmt.Sprintf("%s: missing", key))
		}
	}
	return problems
}

// collisionSuffix is the sink's " (N)" before a file's extension.
var collisionSuffix = regexp.MustCompile(` \(\d+\)(\.[^./]*)?$`)

// pause is one SIGSTOP of a node, until its SIGCONT (zero while stopped).
type pause struct {
	pid       int
	from, til time.Time
}

// capViolations checks the IMAP host's refused logins: a login refused
// because the mailbox had maxConns connections open is a violation of
// the cluster-wide max_connections unless enough of the open ones were
// abandoned: held by a process paused since they opened (its node lost
// the slots with its lease, as with Exchange, whose connections outlive a
// frozen client), or by none (the client had closed or died and the
// server had not noticed yet).
func capViolations(refusals []testmail.Refusal, maxConns int, pauses []pause) []string {
	var problems []string
	for _, r := range refusals {
		live := 0
		for _, c := range r.Open {
			if c.Owner != 0 && !pausedSince(pauses, c.Owner, c.Since, r.At) {
				live++
			}
		}
		if live >= maxConns {
			problems = append(problems, fmt.Sprintf("%s at %s: a login beyond the %d connections its account allows (%d open, all in use)",
				r.User, r.At.Format(time.RFC3339Nano), maxConns, live))
		}
	}
	return problems
}

// pausedSince reports whether pid was stopped at some moment between
// since and at.
func pausedSince(pauses []pause, pid int, since, at time.Time) bool {
	for _, p := range pauses {
		if p.pid == pid && p.from.Before(at) && (p.til.IsZero() || p.til.After(since)) {
			return true
		}
	}
	return false
}

func TestClusterChecksCatchTheirFaults(t *testing.T) {
	msg := func(uid uint32) sentMessage { return sentMessage{uid: uid, sum: [32]byte{byte(uid), 0xee}} }
	sent := map[string][]sentMessage{"a": {msg(1), msg(2)}, "b": {msg(3)}}
	fps := func(ms ...sentMessage) map[state.Fingerprint]bool {
		out := map[state.Fingerprint]bool{}
		for _, m := range ms {
			out[m.fingerprint()] = true
		}
		return out
	}
	sums := func(ms ...sentMessage) [][32]byte {
		var out [][32]byte
		for _, m := range ms {
			out = append(out, m.sum)
		}
		return out
	}

	t.Run("ledger", func(t *testing.T) {
		clean := map[string]map[state.Fingerprint]bool{"a": fps(msg(1), msg(2)), "b": fps(msg(3))}
		if p := ledgerProblems(sent, clean, nil); len(p) != 0 {
			t.Errorf("clean: %v", p)
		}
		lost := map[string]map[state.Fingerprint]bool{"a": fps(msg(1)), "b": fps(msg(3))}
		if p := ledgerProblems(sent, lost, nil); len(p) != 1 || !strings.Contains(p[0], "UID 2 is neither") {
			t.Errorf("lost: %v", p)
		}
		if p := ledgerProblems(sent, lost, map[string]map[uint32]bool{"a": {2: true}}); len(p) != 0 {
			t.Errorf("quarantined: %v", p)
		}
		extra := map[string]map[state.Fingerprint]bool{"a": fps(msg(1), msg(2)), "b": fps(msg(3), msg(9))}
		if p := ledgerProblems(sent, extra, nil); len(p) != 1 || !strings.Contains(p[0], "never sent") {
			t.Errorf("extra: %v", p)
		}
	})

	t.Run("moves", func(t *testing.T) {
		clean := map[string][][32]byte{"a": sums(msg(2), msg(1)), "b": sums(msg(3))}
		if p := moveProblems(sent, nil, clean); len(p) != 0 {
			t.Errorf("clean: %v", p)
		}
		twice := map[string][][32]byte{"a": sums(msg(1), msg(2), msg(1)), "b": sums(msg(3))}
		if p := moveProblems(sent, nil, twice); len(p) != 1 || !strings.Contains(p[0], "UID 1 is in the move folder 2 times") {
			t.Errorf("moved twice: %v", p)
		}
		left := map[string][][32]byte{"a": sums(msg(1))}
		if p := moveProblems(sent, left, map[string][][32]byte{"a": sums(msg(2)), "b": sums(msg(3))}); len(p) != 2 {
			t.Errorf("left in INBOX and not moved: %v", p)
		}
		stranger := map[string][][32]byte{"a": sums(msg(1), msg(2), msg(7)), "b": sums(msg(3))}
		if p := moveProblems(sent, nil, stranger); len(p) != 1 || !strings.Contains(p[0], "never sent") {
			t.Errorf("a stranger: %v", p)
		}
	})

	t.Run("objects", func(t *testing.T) {
		want := map[string]string{"a/x.pdf": "1", "a/y.pdf": "2"}
		if p := objectProblems(map[string]string{"a/x.pdf": "1", "a/y.pdf": "2"}, want); len(p) != 0 {
			t.Errorf("clean: %v", p)
		}
		cases := map[string]map[string]string{
			"a second copy, under a collision suffix": {"a/x.pdf": "1", "a/y.pdf": "2", "a/x (1).pdf": "1"},
			"not written by a clean run":              {"a/x.pdf": "1", "a/y.pdf": "2", "a (1)/z": "3"},
			"other content":                           {"a/x.pdf": "1", "a/y.pdf": "9"},
			"missing":                                 {"a/x.pdf": "1"},
		}
		for want1, got := range cases {
			if p := objectProblems(got, want); len(p) != 1 || !strings.Contains(p[0], want1) {
				t.Errorf("%s: %v", want1, p)
			}
		}
	})

	t.Run("connection cap", func(t *testing.T) {
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
		refused := func(owners ...int) []testmail.Refusal {
			r := testmail.Refusal{User: "a", At: at(10)}
			for _, o := range owners {
				r.Open = append(r.Open, testmail.OpenConn{Owner: o, Since: at(1)})
			}
			return []testmail.Refusal{r}
		}
		if p := capViolations(refused(100, 200), 2, nil); len(p) != 1 {
			t.Errorf("two live connections and a third login: %v", p)
		}
		if p := capViolations(refused(100, 0), 2, nil); len(p) != 0 {
			t.Errorf("one of the two was closed by its client: %v", p)
		}
		stopped := []pause{{pid: 100, from: at(5), til: at(8)}}
		if p := capViolations(refused(100, 100), 2, stopped); len(p) != 0 {
			t.Errorf("both held by a process paused since they opened: %v", p)
		}
		before := []pause{{pid: 100, from: at(-5), til: at(0)}}
		if p := capViolations(refused(100, 200), 2, before); len(p) != 1 {
			t.Errorf("a pause that ended before the connection opened excuses nothing: %v", p)
		}
		stillStopped := []pause{{pid: 200, from: at(9)}}
		if p := capViolations(refused(100, 200), 2, stillStopped); len(p) != 0 {
			t.Errorf("one held by a process stopped now: %v", p)
		}
	})
}
