package popimap

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"

	"mailtask/internal/config"
	"mailtask/internal/extract"
	"mailtask/internal/mailbox"
	"mailtask/internal/rules"
)

// selection is the task's compiled [task.match] and [task.attachments].
type selection struct {
	set    *rules.Set
	files  rules.Files
	nested bool // descend into attached messages
	tnef   bool // take the files out of winmail.dat
}

func newSelection(task *config.Task) (*selection, error) {
	set, err := rules.New(task.Match, task.Location)
	if err != nil {
		return nil, err
	}
	return &selection{
		set:    set,
		files:  rules.NewFiles(task.Attachments),
		nested: task.Attachments.Nested == config.NestedExtract,
		tnef:   task.Attachments.TNEF == config.TNEFExtract,
	}, nil
}

// open replaces, as the task asks, the attached messages and winmail.dat
// files among msg's files by the files inside them. A message that holds
// too many parts then is unparseable (extract.ErrUnparseable).
func (s *selection) open(msg *extract.Message) error {
	if s.nested {
		return msg.ExpandNested(s.tnef)
	}
	if s.tnef {
		return msg.ExpandTNEF()
	}
	return nil
}

// listing is what a run found to take.
type listing struct {
	msgs    []mailbox.Message // to fetch, oldest first
	refused []mailbox.Message // refused on their header alone, and recorded as done
	skipped []Skip            // those refused as automatic mail
	notices []Notice          // quarantine notices recognised on their header alone
	// searched: the server applied the rules' header, date and size
	// terms (server_search = "all"), which are then not checked again
	// but for what the search could not express. With the flags alone
	// (the default) every one of them is checked here.
	searched bool
}

// list lists the messages to fetch. A session that can search applies what
// the account trusts it with of the rules (Set.Query, server_search), so
// that non-matching mail is never downloaded; what it leaves out is
// recorded as done once it has settled (searchlag.go), but for the quarantine notices among it, which a
// search of their own finds, and whose headers are read for the warning.
// The rules the server could not apply are then checked on each header
// (prefilter).
func (r *run) list(ctx context.Context) (listing, error) {
	acct := r.opts.Config.Accounts[r.opts.Task.Account]
	q := r.sel.set.Query(r.now(), acct.SearchesAll())
	have := taken{st: r.st, prune: true, now: r.now()}
	var (
		l     listing
		found mailbox.Found
		err   error
	)
	if s, ok := r.sess.(mailbox.Searcher); ok && !q.IsZero() {
		l.searched = acct.SearchesAll()
		found, err = s.NewMatching(ctx, have, q, rules.NoticeTerms())
	} else {
		found, err = r.sess.New(ctx, have)
	}
	if err != nil {
		return l, err
	}
	markFound(r.st, found)
	settled := settleLeft(r.st, found.Left, acct.Settle(), r.now())
	err = r.prefilter(ctx, &l, found.New, settledWatched(found.Watched, settled))
	return l, err
}

// prefilter checks the rules on header fields that the server could not
// search for against each message's header alone (IMAP BODY.PEEK[HEADER],
// POP3 TOP n 0), so that the messages they refuse are never downloaded.
// Those are recorded as done at once, as after a full parse. It sets l's
// messages to fetch (of msgs), those it refused, why it refused those
// that are automatic mail, and the quarantine notices among them, which
// only their header shows: a run never sees them again. The headers of
// watched, messages the server's search left out (recorded as done
// already), are read with them, whether or not the rules need any, for
// the quarantine notices alone.
func (r *run) prefilter(ctx context.Context, l *listing, msgs, watched []mailbox.Message) error {
	hf, ok := r.sess.(mailbox.HeaderFetcher)
	if !ok {
		l.msgs = msgs
		return nil
	}
	read := msgs
	if len(msgs) == 0 || !r.sel.set.NeedsHeader(l.searched) {
		read = nil
		l.msgs, l.refused = r.bySize(msgs, l.searched)
	}
	if len(watched) > 0 { // IMAP alone, whose UIDs order msgs too
		read = slices.SortedFunc(slices.Values(slices.Concat(read, watched)), byUID)
	}
	for batch := range slices.Chunk(read, r.opts.Task.BatchSize) {
		err := hf.FetchHeaders(ctx, batch, func(m mailbox.Message, header io.Reader) error {
			msg := readHeader(header)
			if _, left := slices.BinarySearchFunc(watched, m, byUID); left {
				if n := r.warnHeaderNotice(m, msg); n != nil {
					l.notices = append(l.notices, *n)
				}
				return nil
			}
			j := r.judgeHeader(m, msg, l.searched)
			if j.skip != nil {
				l.skipped = append(l.skipped, *j.skip)
			}
			if j.notice != nil {
				l.notices = append(l.notices, *j.notice)
			}
			if j.refused {
				l.refused = append(l.refused, m)
			} else {
				l.msgs = append(l.msgs, m)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(l.refused) > 0 && !r.opts.DryRun {
		for _, m := range l.refused {
			markDone(r.st, m)
		}
		if err := r.held.Commit(ctx, r.st, nil); err != nil {
			return err
		}
	}
	return nil
}

// bySize splits msgs, whose headers are not to be read, by the size their
// listing announced: those outside min_size and max_size are refused
// without being downloaded, unless the server's search applied the size
// rules (searched). A size not announced (0) is judged once downloaded.
func (r *run) bySize(msgs []mailbox.Message, searched bool) (fit, refused []mailbox.Message) {
	for _, m := range msgs {
		if !searched && m.Size > 0 {
			if ok, why := r.sel.set.MatchSize(m.Size, true); !ok {
				r.log.Debug("message does not match the task's rules; recorded as done without downloading it", "msg", m.Key(), "rule", why)
				refused = append(refused, m)
				continue
			}
		}
		fit = append(fit, m)
	}
	return fit, refused
}

// byUID orders IMAP messages as the server numbers them.
func byUID(a, b mailbox.Message) int { return cmp.Compare(a.UID, b.UID) }

// readHeader parses a header that FetchHeaders delivered; nil when it
// is too large or unparseable, and the whole message is to decide.
func readHeader(header io.Reader) *extract.Message {
	raw, err := io.ReadAll(io.LimitReader(header, mailbox.MaxHeader+1))
	if err != nil || len(raw) > mailbox.MaxHeader {
		return nil
	}
	msg, err := extract.Parse(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	return msg
}

// headerJudgement is what the header alone says of a message.
type headerJudgement struct {
	refused bool // by the rules on headers
	// skip is why, when it is refused as automatic mail.
	skip *Skip
	// notice: it is refused, and a Microsoft 365 quarantine notice. One
	// that passes is recognised once downloaded, with what its body says
	// is held (plan).
	notice *Notice
}

// judgeHeader checks m's header msg (readHeader) against the rules on
// headers; a header it could not read passes, and the whole message
// decides.
func (r *run) judgeHeader(m mailbox.Message, msg *extract.Message, searched bool) headerJudgement {
	if msg == nil {
		return headerJudgement{}
	}
	// A size the session does not know yet (IMAP) is not judged here.
	in := rules.Input{Size: m.Size, Announced: true, Now: r.now(), Searched: searched || m.Size == 0}
	ok, why := r.sel.set.MatchHeader(msg, in)
	if ok {
		return headerJudgement{}
	}
	j := headerJudgement{refused: true}
	if why == rules.RuleAutomatic {
		j.skip = r.skipAutomatic(m, msg)
	} else {
		r.log.Debug("message does not match the task's rules; recorded as done without downloading it", "msg", m.Key(), "rule", why)
	}
	j.notice = r.warnHeaderNotice(m, msg)
	return j
}

// automaticHeader is what to record of m, whose header msg alone the run
// reads, when it shows automatic mail the task skips; nil otherwise, and
// when msg is (its header could not be read).
func (r *run) automaticHeader(m mailbox.Message, msg *extract.Message) *Skip {
	if msg == nil || r.sel.set.Skipped(msg).Kind == "" {
		return nil
	}
	return r.skipAutomatic(m, msg)
}

// Skip is a message not taken because it is automatic mail the task skips
// (skip_automatic): its kind, and why, for a dry run to list.
type Skip struct {
	Key, Kind, Reason string
}

// skipAutomatic logs msg, which the task skips as automatic mail, at info
// with the header that gave it away: the line a user looks for when
// asking why a message was not taken.
func (r *run) skipAutomatic(m mailbox.Message, msg *extract.Message) *Skip {
	a := r.sel.set.Skipped(msg)
	r.log.Info("automatic mail not taken (skip_automatic); recorded as done and left on the server", "msg", m.Key(), "kind", a.Kind, "sign", a.Sign, "from", msg.From, "subject", msg.Subject)
	return &Skip{Key: m.Key(), Kind: a.Kind, Reason: fmt.Sprintf("%s: %s", a.Describe(), a.Sign)}
}

// afterActions is what the server does with a taken message and with one
// that could not be parsed.
func afterActions(task *config.Task) mailbox.After {
	return mailbox.After{
		Action:  task.After,
		MoveTo:  task.MoveTo,
		Keyword: task.Keyword,
		Failure: &mailbox.After{Action: task.AfterFailure, MoveTo: task.FailureMoveTo, Keyword: task.FailureKeyword},
	}
}
