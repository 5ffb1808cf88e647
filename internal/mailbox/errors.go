package mailbox

import (
	"errors"
	"fmt"
	"net"
)

// Step names the stage of a session at which something failed; an admin
// reads it first ("login failed" and "connect failed" have different fixes).
type Step string

const (
	StepConnect Step = "connect"
	StepTLS     Step = "TLS"
	StepLogin   Step = "login"
	StepSelect  Step = "select"
	StepList    Step = "list"
	StepFetch   Step = "fetch"
	StepAfter   Step = "after-action"
	StepLogout  Step = "logout"
)

// Error is a failed step of a mailbox session. It never carries a secret:
// only the address, the user name and the server's or system's reply.
type Error struct {
	Step Step
	Addr string // host:port
	User string // with StepLogin
	Err  error
	// Transient marks failures worth retrying as they are (a dropped
	// connection, a timeout, a message the server left out).
	Transient bool
}

func (e *Error) Error() string {
	switch {
	case e.User != "":
		return fmt.Sprintf("%s to %s as %s failed: %v", e.Step, e.Addr, e.User, e.Err)
	default:
		return fmt.Sprintf("%s to %s failed: %v", e.Step, e.Addr, e.Err)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// IsTransient reports whether err is worth retrying unchanged: network
// failures and timeouts are, a refused login or a missing folder are not.
func IsTransient(err error) bool {
	var me *Error
	if errors.As(err, &me) && me.Transient {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) && me != nil && (me.Step == StepConnect || me.Step == StepFetch)
}
