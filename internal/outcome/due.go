package outcome

// Due counts the messages taken whose actions the server has not
// confirmed: their after-action (the removal of moved messages included)
// and their failure action, refused ones included. Every later run
// retries them. Unlike Counts it is a level, not a count of what one run
// did: a run's Due is what is due when it ends, and a later run's replaces
// it.
type Due struct {
	After   int `json:"actions_due"`
	Failure int `json:"failure_actions_due"`
}

// Total is how many actions are due.
func (d Due) Total() int { return d.After + d.Failure }
