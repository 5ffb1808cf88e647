// Package imap implements mailbox.Session over IMAP4rev1/rev2 with
// go-imap v2, working around its known traps:
//
//   - messages are fetched with BODY.PEEK[] (a plain BODY[] makes Exchange
//     send UID after the literal, and the library then drops the message)
//     and a message whose UID still arrives late is noted by the
//     unilateral-data handler and asked for again by its message number,
//     instead of being lost; every requested UID is checked to have come
//     back;
//   - literals stream from the socket, never Collect()ed; a message the
//     server announces larger than the session's limit is not read, and
//     bodies nobody asked for are discarded as they arrive;
//   - go-imap holds every response line and literal but a message's in
//     memory, whatever its length: the code filter bounds them (wire.go);
//   - a literal cut short (the server or a proxy closed the connection
//     mid-message) reads from go-imap as a clean end of stream: a literal
//     that ends before its announced size fails its reader, and the rest
//     of that FETCH is drained by one goroutine at a time, since the
//     library's reader races the caller's otherwise (limits.go);
//   - go-imap spins for ever on a "(" in a capability list: such a
//     listing is refused as it arrives (wire.go);
//   - go-imap's NumSet.Nums and SearchData.AllUIDs loop for ever on UID
//     4294967295 and panic on a "*" in a server's answer: UID sets are
//     read here (uids.go), and UIDs at or above UIDNEXT left out;
//   - the library's hard-coded deadlines are replaced by mailbox.IdleConn's
//     inactivity timeout;
//   - status responses with response codes the library cannot parse
//     (Exchange's [Error="..." Proxy=...], even on a successful login) are
//     rewritten on the way in (codes.go) instead of closing the connection;
//     STARTTLS is done here rather than by the library (starttls.go), so
//     that the upgraded stream goes through the same rewriting, and data a
//     server sends between its STARTTLS reply and the handshake is refused;
//   - "UID SEARCH UID n:*" answers the highest UID even when n is beyond it,
//     so results are filtered;
//   - MOVE and delete are refused, before anything is taken, on servers
//     without MOVE/UIDPLUS, where the library's fallback would EXPUNGE
//     every \Deleted message of other clients;
//   - on servers with UIDPLUS but no MOVE (Courier) the library's Move
//     sends COPY, STORE \Deleted and EXPUNGE at once, expunging messages
//     whose copy was refused: a move is UID COPY alone, then STORE and
//     UID EXPUNGE of what the server confirmed it copied (actions.go);
//   - a refused action is a *mailbox.RefusedError naming its messages,
//     and where the server has ACL, MYRIGHTS is asked before anything is
//     taken;
//   - GNU Mailutils answers "UID SEARCH UID n:*" with nothing: UIDs are
//     then listed with UID FETCH (session.go);
//   - LOGINDISABLED is honoured: no password is sent where it is;
//   - IDLE (idle.go) bounds the wait for the reply to DONE, which the
//     library would wait for forever, and reports a connection dropped
//     while idling;
//   - go-imap drops the text of an untagged BYE and fails the commands
//     pending with a bare end of stream: the code filter keeps it, and
//     every failure of the session, built by Session.fail, says why the
//     server ended it (Exchange's "Session invalidated -
//     AccessTokenExpired", Dovecot's "Server shutting down."); a
//     CAPABILITY it cuts short is that failure, not a server without
//     MOVE or UIDPLUS.
package imap
