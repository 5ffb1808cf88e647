package testmail

import "errors"

// ErrDrop, returned by IMAPOptions.Fault, makes the server close the
// client's connection without a reply, as a crashing or overloaded server
// does.
var ErrDrop = errors.New("testmail: drop the connection")

// fault applies IMAPOptions.Fault and ConnFault to a client's command.
func (sess *imapSession) fault(cmd string) error {
	opts := sess.srv.opts
	if sess.internal || opts.Fault == nil && opts.ConnFault == nil {
		return nil
	}
	var err error
	if opts.Fault != nil {
		err = opts.Fault(cmd)
	}
	if err == nil && opts.ConnFault != nil {
		err = opts.ConnFault(sess.n, cmd)
	}
	if errors.Is(err, ErrDrop) {
		sess.conn.Close()
	}
	return err
}
