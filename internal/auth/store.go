package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"

	"mailtask/internal/state"
)

// Record is what the token store keeps for one account. It holds live
// credentials, yet prints, logs and marshals as a summary without them:
// only the store writes them out.
type Record struct {
	Account  string
	Provider string
	Flow     string
	Tenant   string
	ClientID string
	Scopes   []string
	// User is who signed in, as the identity platform names them; "" for
	// app-only tokens or when the platform did not say.
	User     string
	SignedIn time.Time

	AccessToken secret
	Expiry      time.Time
	// RefreshToken is replaced on every refresh that returns a new one
	// (Microsoft rotates them on each use); RefreshIssued is when the
	// current one arrived, which for Microsoft is its idle age.
	RefreshToken  secret
	RefreshIssued time.Time
}

// secret is a token: it never prints, logs or marshals itself.
type secret string

const redacted = "[redacted]"

func (secret) String() string               { return redacted }
func (secret) GoString() string             { return redacted }
func (secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// String summarises r without its tokens.
func (r Record) String() string {
	return fmt.Sprintf("token record of account %q (%s %s, user %q, access token until %s)", r.Account, r.Provider, r.Flow, r.User, r.Expiry.Format(time.RFC3339))
}

// GoString is String, for %#v.
func (r Record) GoString() string { return r.String() }

// LogValue keeps tokens out of structured logs.
func (r Record) LogValue() slog.Value { return slog.StringValue(r.String()) }

// MarshalJSON keeps tokens out of any JSON but the store's own.
func (r Record) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// recordFile is the store's file format.
type recordFile struct {
	Account       string    `json:"account"`
	Provider      string    `json:"provider"`
	Flow          string    `json:"flow"`
	Tenant        string    `json:"tenant,omitempty"`
	ClientID      string    `json:"client_id"`
	Scopes        []string  `json:"scopes"`
	User          string    `json:"user,omitempty"`
	SignedIn      time.Time `json:"signed_in,omitzero"`
	AccessToken   string    `json:"access_token,omitempty"`
	Expiry        time.Time `json:"expiry,omitzero"`
	RefreshToken  string    `json:"refresh_token,omitempty"`
	RefreshIssued time.Time `json:"refresh_token_issued,omitzero"`
}

func (f recordFile) record() *Record {
	return &Record{f.Account, f.Provider, f.Flow, f.Tenant, f.ClientID, f.Scopes, f.User, f.SignedIn, secret(f.AccessToken), f.Expiry, secret(f.RefreshToken), f.RefreshIssued}
}

func (r *Record) file() recordFile {
	return recordFile{r.Account, r.Provider, r.Flow, r.Tenant, r.ClientID, r.Scopes, r.User, r.SignedIn, string(r.AccessToken), r.Expiry, string(r.RefreshToken), r.RefreshIssued}
}

// Store keeps token records, one 0600 file per account in a 0700
// directory, each replaced atomically and guarded by a lock file, so that
// the daemon and a manual run never both spend one rotating refresh token.
type Store struct {
	Dir string
}

// StoreDir is the store's directory under a configuration's state_dir.
func StoreDir(stateDir string) string { return filepath.Join(stateDir, "tokens") }

// Path is the file holding account's record.
func (s Store) Path(account string) string { return filepath.Join(s.Dir, account+".json") }

var _ TokenStore = Store{}

// Load returns the record of k's account, or nil when there is none.
// Reading needs no lock: files are only ever replaced whole. App-only
// tokens are kept per account.
func (s Store) Load(_ context.Context, k TokenKey) (*Record, error) {
	return s.load(k.Account)
}

func (s Store) load(account string) (*Record, error) {
	data, err := os.ReadFile(s.Path(account))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("token store: %w", err)
	}
	var f recordFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("token store: %s is damaged (%v); remove it and run `mailtask auth login %s`", s.Path(account), err, account)
	}
	return f.record(), nil
}

// Save replaces account's record: written to a temporary file, fsynced,
// renamed over the old one, directory fsynced. A crash leaves the old
// record or the new one, never a mix; a rotated refresh token is on disk
// before it is ever used.
func (s Store) Save(r *Record) error {
	data, err := json.MarshalIndent(r.file(), "", "  ")
	if err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	if err := state.WriteFile(s.Path(r.Account), append(data, '\n')); err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	return nil
}

// Update runs fn on the record of k's account under the account's lock
// file, and saves what it returns.
func (s Store) Update(ctx context.Context, k TokenKey, fn func(*Record) (*Record, error)) error {
	lockCtx, cancel := context.WithTimeout(ctx, lockWait)
	unlock, err := s.Lock(lockCtx, k.Account)
	cancel()
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := s.load(k.Account)
	if err != nil {
		return err
	}
	next, err := fn(rec)
	if err != nil || next == nil {
		return err
	}
	return s.Save(next)
}

// Forget removes account's record under the account's lock file.
func (s Store) Forget(ctx context.Context, account string) (bool, error) {
	lockCtx, cancel := context.WithTimeout(ctx, lockWait)
	unlock, err := s.Lock(lockCtx, account)
	cancel()
	if err != nil {
		return false, err
	}
	defer unlock()
	err = state.RemoveFile(s.Path(account))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("token store: %w", err)
	}
	return true, nil
}

// Where is the file of account's record.
func (s Store) Where(account string) string { return s.Path(account) }

// ensureDir creates the store's directory 0700, or makes an existing one
// 0700: tokens are as good as passwords, and a directory others can list
// or enter (a state_dir made 0755 by hand) gives their names and more away.
// A directory owned by another user is refused rather than changed.
func (s Store) ensureDir() error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	fi, err := os.Stat(s.Dir)
	if err != nil {
		return fmt.Errorf("token store: %w", err)
	}
	if owner, ok := ownerOf(fi); ok && owner != os.Geteuid() {
		return fmt.Errorf("token store: %s belongs to user %d, not to this process's user %d: make it this user's (chown) with mode 0700, or point state_dir elsewhere", s.Dir, owner, os.Geteuid())
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(s.Dir, 0o700); err != nil {
			return fmt.Errorf("token store: %s is mode %04o and could not be made 0700: %w", s.Dir, fi.Mode().Perm(), err)
		}
	}
	return nil
}

// lockRetry is how often a waiting Lock tries again.
const lockRetry = 25 * time.Millisecond

// Lock takes account's lock, waiting while another process (a daemon's
// run, a manual run, `auth login`) refreshes the same token, until ctx
// ends. The caller must call the returned function.
func (s Store) Lock(ctx context.Context, account string) (unlock func(), err error) {
	if err := s.ensureDir(); err != nil {
		return nil, err
	}
	fl := flock.New(filepath.Join(s.Dir, account+".lock"), flock.SetPermissions(0o600))
	ok, err := fl.TryLockContext(ctx, lockRetry)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("token store: account %q: another mailtask process held the token lock until the wait ended: %w", account, err)
		}
		return nil, fmt.Errorf("token store: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("token store: account %q: lock not taken", account)
	}
	return func() { fl.Unlock() }, nil
}
