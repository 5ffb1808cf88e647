package testmail

import "errors"

// ErrDrop, returned by IMAPOptions.Fault, makes the server close the
// client's connection without a reply, as a crashing or overloaded server
// does.
var ErrDrop = errors.New("testmail: drop the connection")

// fault applies IMAPOptions.Fault to a client's command.
func (sess *imapSession) fault(cmd string) error {
	if sess.internal || sess.srv.opts.Fault == nil {
		return nil
	}
	err := sess.srv.opts.Fault(cmd)
	if errors.Is(err, ErrDrop) {
		sess.conn.Close()
	}
	return err
}
