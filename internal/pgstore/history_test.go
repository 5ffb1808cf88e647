package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"mailtask/internal/outcome"
	"mailtask/internal/state"
)

// The run history is for an operator's SQL (README); the tests read it
// through Runs.

// RunRecord is one run in the history: which node ran it, under which
// epoch.
type RunRecord struct {
	state.Run
	Node  string
	Epoch int64
}

// Runs returns the newest runs of task, newest first, at most limit.
func (s *Store) Runs(ctx context.Context, task string, limit int) ([]RunRecord, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT node, epoch, started, duration_ms, outcome, error, hint, seen, saved, failed, files, bytes, known, unmatched, held, quarantine_notices
		FROM runs WHERE task = $1 ORDER BY id DESC LIMIT $2`, task, limit)
	if err != nil {
		return nil, fmt.Errorf("read the runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RunRecord, error) {
		var (
			rec       RunRecord
			ms, bytes int64
		)
		err := r.Scan(&rec.Node, &rec.Epoch, &rec.Started, &ms, &rec.Outcome, &rec.Error, &rec.Hint,
			&rec.Seen, &rec.Saved, &rec.Failed, &rec.Files, &bytes, &rec.Known, &rec.Unmatched, &rec.Held, &rec.QuarantineNotices)
		rec.Duration = time.Duration(ms) * time.Millisecond
		rec.Bytes = outcome.Bytes(bytes)
		return rec, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the runs: %w", err)
	}
	return runs, nil
}
