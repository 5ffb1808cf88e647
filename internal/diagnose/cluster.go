package diagnose

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5/pgconn"
)

// Cluster mode's failures come from the object store of s3://
// destinations and from the state_store database, not from a mailbox:
// the rows for them come first, so that a refused connection or an
// unknown host there is not taken for the mail server's and sent to the
// account's host and port.

// objectStore matches a failure of a request to the object store that is
// not a run's own cancellation.
func objectStore(f *failure) bool {
	var op *smithy.OperationError
	return errors.As(f.err, &op) && op.ServiceID == "S3" && !errors.Is(f.err, context.Canceled)
}

// s3Code matches an object store's refusal with one of the error codes
// of the S3 API (NoSuchBucket, SignatureDoesNotMatch, ...).
func s3Code(codes ...string) func(*failure) bool {
	return func(f *failure) bool {
		var api smithy.APIError
		return objectStore(f) && errors.As(f.err, &api) && containsFold(codes, api.ErrorCode())
	}
}

// databaseGone matches a failure to connect to the state_store database,
// or the server ending a session or refusing one for now: shutting down
// or restarting (class 57), the connection lost (08), out of connections
// (53).
func databaseGone(f *failure) bool {
	var ce *pgconn.ConnectError
	return errors.As(f.err, &ce) || sqlState("57", "08", "53")(f)
}

// DatabaseDown reports whether err is the state_store database not
// answering, or ending or refusing sessions for now — a restart, a
// failover, a pooler that has not reached it again — which waiting may
// cure, unlike a refused password, a missing database or a setting a
// pooler does not take: the failures Hint sends to "database
// unreachable".
func DatabaseDown(err error) bool {
	r := find(err)
	return r != nil && r.name == rowDatabaseUnreachable
}

// rowDatabaseUnreachable names the catalogue's row of a database that
// does not answer.
const rowDatabaseUnreachable = "database unreachable"

// sqlState matches a PostgreSQL error whose SQLSTATE is one of codes, or,
// for a code of two characters, is in that class.
func sqlState(codes ...string) func(*failure) bool {
	return func(f *failure) bool {
		var pe *pgconn.PgError
		if !errors.As(f.err, &pe) {
			return false
		}
		for _, c := range codes {
			if pe.Code == c || (len(c) == 2 && strings.HasPrefix(pe.Code, c)) {
				return true
			}
		}
		return false
	}
}

// pgMessage matches a PostgreSQL error whose message has text in it and,
// if code is not "", whose SQLSTATE is code.
func pgMessage(code, text string) func(*failure) bool {
	return func(f *failure) bool {
		var pe *pgconn.PgError
		return errors.As(f.err, &pe) && (code == "" || pe.Code == code) && strings.Contains(pe.Message, text)
	}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// Hints the cluster's rows share.
const (
	notCommitted  = " A run that meets this commits nothing of its batch: the next run takes those messages again, and recognises the objects already written."
	databaseSetup = "state_store_env, state_store_file or state_store"
)
