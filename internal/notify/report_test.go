package notify

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"mailtask/internal/config"
	"mailtask/internal/state"
)

// A digest of many tasks leads with those that need a look, in full, and
// counts the others: a block of lines per task made a digest of thousands
// of tasks that nobody read to its failing ones.
func TestDigestLeadsWithTasksThatNeedALook(t *testing.T) {
	now := time.Date(2025, 3, 14, 8, 0, 0, 0, time.UTC)
	ran := &state.Run{Started: now.Add(-time.Hour), Outcome: "ok"}
	cfg := &config.Config{}
	states := map[string]*state.State{
		"failing":  {LastRun: &state.Run{Started: ran.Started, Outcome: "failed", Error: "AUTHENTICATE failed."}, LastSuccess: &state.Run{Started: now.Add(-50 * time.Hour)}},
		"never-ok": {LastRun: &state.Run{Started: ran.Started, Outcome: "stopped"}},
		"kept":     {LastRun: ran, LastSuccess: ran, Failed: []state.Failure{{Key: "uid:1"}, {Key: "uid:2"}}},
		// Runs that went well after one that met notices of mail held
		// in quarantine three hours ago.
		"noticed": {LastRun: ran, LastSuccess: ran, LastNotice: &state.LastNotice{At: now.Add(-3 * time.Hour), Notices: 2, Held: 5}},
		// A notice a day old is no longer news.
		"noticed-long-ago": {LastRun: ran, LastSuccess: ran, LastNotice: &state.LastNotice{At: now.Add(-state.NoticeKept), Notices: 1}},
	}
	for i := range 24 {
		states[fmt.Sprintf("well-%02d", i)] = &state.State{LastRun: ran, LastSuccess: ran}
	}
	for name := range states {
		cfg.Tasks = append(cfg.Tasks, &config.Task{Name: name, Account: "a", Destination: "/srv/in"})
	}
	cfg.Tasks = append(cfg.Tasks, &config.Task{Name: "new", Account: "a", Destination: "/srv/in"}, &config.Task{Name: "damaged", Account: "a", Destination: "/srv/in"})
	load := func(task string) (*state.State, error) {
		if task == "damaged" {
			return nil, errors.New("damaged.json: unexpected end of JSON input")
		}
		if st, ok := states[task]; ok {
			return st, nil
		}
		return &state.State{}, nil
	}
	subject, body := Digest(cfg, load, now)
	if subject != "mailtask digest: 1 of 31 tasks failing" {
		t.Errorf("subject %q", subject)
	}
	for _, want := range []string{
		"31 tasks: 5 need a look, 25 well, 1 not run yet\n",
		"failing (a → /srv/in)\n", "error: AUTHENTICATE failed.", "last success Wed, 12 Mar 2025 06:00:00 +0000 (50h0m0s ago)",
		"never-ok (a → /srv/in)\n", "never succeeded",
		"kept (a → /srv/in)\n", "2 messages kept aside as failed (mailtask state show kept)",
		"damaged (a → /srv/in)\n  state unreadable: damaged.json",
		"noticed (a → /srv/in)\n", "\n  met 2 Microsoft 365 quarantine notices at 05:00, 3 h ago: 5 messages for this mailbox are held in quarantine",
		"\nWell (last run succeeded): 25\n\nNot run yet: 1\n  new\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("digest lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "well-") || strings.Contains(body, "noticed-long-ago") || strings.Index(body, "Well") < strings.Index(body, "kept (a") {
		t.Errorf("the tasks that need no look are listed, or come first:\n%s", body)
	}

	// A few tasks that need no look are listed, a line each.
	cfg.Tasks = cfg.Tasks[:0]
	for i := range 3 {
		cfg.Tasks = append(cfg.Tasks, &config.Task{Name: fmt.Sprintf("well-%02d", i), Account: "a", Destination: "/srv/in"})
	}
	subject, body = Digest(cfg, load, now)
	if subject != "mailtask digest: 3 tasks, all well" || !strings.Contains(body, "\n  well-02: last run Fri, 14 Mar 2025 07:00:00 +0000, ok; 0 saved, 0 files\n") {
		t.Errorf("%s\n%s", subject, body)
	}
}
