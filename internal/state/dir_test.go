package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A state directory another account can write to or owns is refused,
// with the fix in the message, before anything in it is touched.
func TestLockRefusesAStateDirOthersControl(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	lock, err := Lock(dir, "t")
	if err == nil {
		lock.Unlock()
	}
	if err == nil || !strings.Contains(err.Error(), "state_dir "+dir+" is writable by group or others (mode 0777)") || !strings.Contains(err.Error(), `chmod go-w `+dir) {
		t.Errorf("group/world-writable: err = %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err = Lock(dir, "t")
	if err != nil {
		t.Fatalf("a 0755 state_dir of ours is refused: %v", err)
	}
	lock.Unlock()

	if os.Geteuid() != 0 {
		t.Log("not root: a state_dir of another owner cannot be made here")
		return
	}
	if err := os.Chown(dir, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	_, err = Lock(dir, "t")
	if err == nil || !strings.Contains(err.Error(), "state_dir "+dir+" belongs to uid 4242") || !strings.Contains(err.Error(), "chown 0 "+dir) {
		t.Errorf("another owner: err = %v", err)
	}
}

// Links planted in place of the state files are never followed: the lock
// emptied its target, the ledger truncated its own, and the state file
// and UIDL log were read from anywhere.
func TestStateFilesAreNotOpenedThroughLinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "precious")
	const precious = "precious data, 29 bytes long\n"
	plant := func(name string) {
		t.Helper()
		if err := os.WriteFile(victim, []byte(precious), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(filepath.Join(dir, name)) })
	}
	intact := func(what string) {
		t.Helper()
		if b, err := os.ReadFile(victim); err != nil || string(b) != precious {
			t.Errorf("%s: the link's target now holds %q (%v)", what, b, err)
		}
	}

	plant("t.lock")
	if lock, err := Lock(dir, "t"); err == nil {
		lock.Unlock()
		t.Error("Lock followed a link in place of the lock file")
	}
	intact("lock")

	plant("u.ledger")
	if l, err := OpenLedger(dir, "u"); err == nil {
		l.Has(Fingerprint{}) // reads the records, cutting off a torn one
		l.Close()
		t.Error("OpenLedger followed a link in place of the ledger")
	}
	intact("ledger")

	plant("v.json") // a state file elsewhere, which Load would take for this task's
	if err := os.WriteFile(victim, []byte(`{"version":2,"task":"elsewhere"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, "v"); err == nil {
		t.Error("Load followed a link in place of the state file")
	}

	plant("w.uidls.1") // the file the first save of POP3 UIDLs writes
	st, err := Load(dir, "w")
	if err != nil {
		t.Fatal(err)
	}
	st.UIDLs.Add("uidl-1")
	if err := st.Save(); err == nil {
		t.Error("Save followed a link in place of the UIDL log")
	}
	intact("UIDL log")
}
