package popimap

import (
	"context"

	"mailtask/internal/config"
	"mailtask/internal/mailbox"
	"mailtask/internal/rules"
)

// selection is the task's compiled [task.match] and [task.attachments].
type selection struct {
	set    *rules.Set
	files  rules.Files
	nested bool // descend into attached messages
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
	}, nil
}

// newMessages lists the messages to fetch. A session that can search
// applies what it can of the rules on the server, so that non-matching
// mail is never downloaded; what it leaves out is recorded as done.
func (r *run) newMessages(ctx context.Context) ([]mailbox.Message, error) {
	q := r.sel.set.Query(r.now())
	if s, ok := r.sess.(mailbox.Searcher); ok && !q.IsZero() {
		r.searched = true
		return s.NewMatching(ctx, r.st, q)
	}
	return r.sess.New(ctx, r.st)
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
