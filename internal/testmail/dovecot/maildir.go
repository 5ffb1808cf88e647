package dovecot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// MaildirPath returns the Maildir directory of user's folder: the Maildir
// itself for INBOX, the Maildir++ directory ".A.B" in it for folder "A/B".
func (s *Server) MaildirPath(user, folder string) string {
	root := filepath.Join(s.Dir, "home", user, "Maildir")
	if strings.EqualFold(folder, "INBOX") {
		return root
	}
	return filepath.Join(root, "."+strings.ReplaceAll(folder, "/", "."))
}

// Seed delivers raw messages, byte for byte, into user's folder ("INBOX",
// "Processed", "A/B"), creating the folder if needed: seeding no messages
// just creates it, e.g. as a move target. It writes Maildir files directly,
// which is fast enough for thousands of messages; Dovecot picks them up on
// the next SELECT (or, for an IDLE session, at once) and gives them UIDs in
// seeding order.
func (s *Server) Seed(t testing.TB, user, folder string, msgs ...[]byte) {
	t.Helper()
	if err := s.seed(user, folder, msgs); err != nil {
		t.Fatalf("dovecot: seed %s's %s: %v", user, folder, err)
	}
}

func (s *Server) seed(user, folder string, msgs [][]byte) error {
	if _, ok := s.users[user]; !ok {
		return fmt.Errorf("no user %q on this server (add it to Options.Users)", user)
	}
	if folder == "" || strings.HasPrefix(folder, "/") || strings.HasSuffix(folder, "/") || strings.Contains(folder, ".") {
		return fmt.Errorf("folder name %q: use names like INBOX, Processed or A/B (no '.', no leading or trailing '/')", folder)
	}
	dir := s.MaildirPath(user, folder)
	if err := s.makeFolder(user, dir, !strings.EqualFold(folder, "INBOX")); err != nil {
		return err
	}
	for _, msg := range msgs {
		name := s.uniqueName()
		tmp := filepath.Join(dir, "tmp", name)
		if err := os.WriteFile(tmp, msg, 0o600); err != nil {
			return err
		}
		if err := os.Chown(tmp, s.id.mailUID, s.id.mailGID); err != nil {
			return err
		}
		// Through tmp/ as Maildir requires, so that Dovecot scanning new/
		// never sees half a message.
		if err := os.Rename(tmp, filepath.Join(dir, "new", name)); err != nil {
			return err
		}
	}
	return nil
}

// makeFolder creates the Maildir and the folder's cur/new/tmp, owned by
// the mail user so that Dovecot can write to them.
func (s *Server) makeFolder(user, dir string, subfolder bool) error {
	root := s.MaildirPath(user, "INBOX")
	dirs := []string{root, filepath.Join(root, "cur"), filepath.Join(root, "new"), filepath.Join(root, "tmp")}
	if subfolder {
		dirs = append(dirs, dir, filepath.Join(dir, "cur"), filepath.Join(dir, "new"), filepath.Join(dir, "tmp"))
	}
	for _, d := range dirs {
		if err := s.mkdirOwned(d); err != nil {
			return err
		}
	}
	if !subfolder {
		return nil
	}
	// Maildir++ marks folders with this empty file; Dovecot creates it too.
	marker := filepath.Join(dir, "maildirfolder")
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		return err
	}
	return os.Chown(marker, s.id.mailUID, s.id.mailGID)
}

func (s *Server) mkdirOwned(dir string) error {
	err := os.Mkdir(dir, 0o700)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.Chown(dir, s.id.mailUID, s.id.mailGID)
}

// uniqueName returns a Maildir file name whose leading timestamp strictly
// increases: Dovecot assigns UIDs to new files in timestamp order, so
// messages get UIDs in the order they were seeded, even within one
// microsecond.
func (s *Server) uniqueName() string {
	s.mu.Lock()
	micro := time.Now().UnixMicro()
	if micro <= s.lastMicro {
		micro = s.lastMicro + 1
	}
	s.lastMicro = micro
	s.mu.Unlock()
	return fmt.Sprintf("%d.M%dP%d.mailtask-seed", micro/1e6, micro%1e6, os.Getpid())
}

// Count returns how many messages user's folder holds (files in new/ and
// cur/) and how many of them carry \Seen. A message flagged \Deleted but not
// yet expunged still counts. A folder that does not exist holds none. It
// panics when a directory exists but cannot be read: the harness itself is
// then broken.
func (s *Server) Count(user, folder string) (total, seen int) {
	dir := s.MaildirPath(user, folder)
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			panic(fmt.Sprintf("dovecot: count messages in %s: %v", dir, err))
		}
		for _, e := range entries {
			if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			total++
			// Maildir keeps flags after ":2,", one letter each; S is \Seen.
			if _, flags, ok := strings.Cut(e.Name(), ":2,"); ok && strings.Contains(flags, "S") {
				seen++
			}
		}
	}
	return total, seen
}
