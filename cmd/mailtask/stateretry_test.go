package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/state"
)

// A plain retry cannot take again from the server a message
// after_failure deleted there. Named by its key, it refuses the lot;
// with no key, it takes the others and names those it leaves.
func TestRetryableLeavesWhatTheServerDeleted(t *testing.T) {
	fp := state.Fingerprint{}
	st := &state.State{Task: "t", Failed: []state.Failure{
		{Key: "uid:1", Path: "/s/failed/t/uid-1.eml", Fingerprint: &fp, Action: config.AfterDelete},
		{Key: "uid:2", Path: "/s/failed/t/uid-2.header.eml", Action: config.AfterNone},
	}}
	task := &config.Task{Name: "t", Actions: config.Actions{AfterFailure: config.AfterDelete}}
	var usage usageError
	for _, c := range []struct {
		keys              []string
		pick, gone, fails string
	}{
		{nil, "[uid:2]", "uid:1: after_failure deleted it", ""},
		{[]string{"uid:2"}, "[uid:2]", "", ""},
		{[]string{"uid:1"}, "", "", "cannot find on the server"},
		{[]string{"uid:1", "uid:2"}, "", "", "cannot find on the server"},
	} {
		pick, gone, err := retryable(st, task, c.keys)
		switch {
		case c.fails != "":
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), c.fails) || !strings.Contains(err.Error(), "--from-copy") {
				t.Errorf("keys %v: %v; want a usage error saying %q and naming --from-copy", c.keys, err, c.fails)
			}
		case err != nil || fmt.Sprint(pick) != c.pick || len(gone) != min(len(c.gone), 1) || c.gone != "" && !strings.HasPrefix(gone[0], c.gone):
			t.Errorf("keys %v: pick %v, gone %q, %v; want %s and %q", c.keys, pick, gone, err, c.pick, c.gone)
		}
	}
	only := &state.State{Task: "t", Failed: st.Failed[:1]}
	if _, _, err := retryable(only, task, nil); !errors.As(err, &usage) {
		t.Errorf("every message gone, no key: %v; want a usage error", err)
	}
}
