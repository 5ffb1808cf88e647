package popimap

import (
	"testing"

	"mailtask/internal/config"
	"mailtask/internal/testmail/servers/popa3d"
)

// A real popa3d 1.0, run from the private root .ci/servers unpacks: a
// POP3 server without CAPA (it answers -ERR), with UIDL, over an mbox.

const popa3dPassword = "popa3d-secret"

// A delete run takes every message and empties the mailbox; the next run
// finds nothing.
func TestPopa3dTakesAndDeletes(t *testing.T) {
	t.Parallel() // popa3d holds its lock up to a second after each change
	s := popa3d.Start(t, popa3d.Options{Users: map[string]string{"carol": popa3dPassword}})
	s.Seed(t, "carol", scan(1), scan(2), scan(3))
	cfg := taskConfig(t, "popa3d", accountTOML("popa3d", config.ProtocolPOP3, s.POP3Addr, config.TLSNone, "", "carol", popa3dPassword), `after = "delete"`)
	if sum, err := runOnce(cfg); err != nil || sum.Saved != 3 || sum.Due.After != 0 {
		t.Fatalf("run: %+v, %v; want the 3 messages taken and deleted", sum, err)
	}
	if n := s.Count(t, "carol"); n != 0 {
		t.Errorf("the mailbox holds %d messages after delete", n)
	}
	if n := len(filesIn(t, cfg.Tasks[0].Destination)); n != 3 {
		t.Errorf("%d files, want 3", n)
	}
	if sum, err := runOnce(cfg); err != nil || sum.Seen != 0 {
		t.Errorf("a further run: %+v, %v; want nothing new", sum, err)
	}
}
