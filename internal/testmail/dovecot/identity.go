package dovecot

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
)

// identity is who an instance's processes and mail files run as.
type identity struct {
	internalUser  string // auth, anvil, stats ($default_internal_user); also reads the passwd file
	internalGroup string // owner group of internal sockets ($default_internal_group)
	loginUser     string // imap-login and pop3-login
	mailUID       int    // owner of the Maildirs and of the mail processes
	mailGID       int
}

func currentIdentity() (identity, error) {
	if os.Geteuid() == 0 {
		return rootIdentity()
	}
	// Without root Dovecot cannot switch users, so every service runs as us.
	u, err := user.Current()
	if err != nil {
		return identity{}, fmt.Errorf("dovecot needs the current user's name: %w", err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return identity{}, fmt.Errorf("dovecot needs the name of group %s (of user %s): %w", u.Gid, u.Username, err)
	}
	uid, gid, err := numericIDs(u)
	if err != nil {
		return identity{}, err
	}
	return identity{internalUser: u.Username, internalGroup: g.Name, loginUser: u.Username, mailUID: uid, mailGID: gid}, nil
}

// rootIdentity borrows the unprivileged users the Debian package creates:
// Dovecot refuses root as a login user and uid 0 for mail processes
// ("userdb returned 0 as uid"). The mail user is the internal user, so the
// passwd file needs only one owner.
func rootIdentity() (identity, error) {
	const internal, login = "dovecot", "dovenull"
	u, err := user.Lookup(internal)
	if err != nil {
		return identity{}, unavailableError(fmt.Sprintf("system user %s is missing (the dovecot-core package creates it): %v; %s", internal, err, missingMessage))
	}
	if _, err := user.Lookup(login); err != nil {
		return identity{}, unavailableError(fmt.Sprintf("system user %s is missing (the dovecot-core package creates it): %v; %s", login, err, missingMessage))
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return identity{}, fmt.Errorf("dovecot needs the name of group %s (of user %s): %w", u.Gid, internal, err)
	}
	uid, gid, err := numericIDs(u)
	if err != nil {
		return identity{}, err
	}
	return identity{internalUser: internal, internalGroup: g.Name, loginUser: login, mailUID: uid, mailGID: gid}, nil
}

func numericIDs(u *user.User) (uid, gid int, err error) {
	if uid, err = strconv.Atoi(u.Uid); err != nil {
		return 0, 0, fmt.Errorf("uid %q of user %s is not numeric", u.Uid, u.Username)
	}
	if gid, err = strconv.Atoi(u.Gid); err != nil {
		return 0, 0, fmt.Errorf("gid %q of user %s is not numeric", u.Gid, u.Username)
	}
	return uid, gid, nil
}
