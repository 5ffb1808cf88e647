package diagnose_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"mailtask/internal/diagnose"
	"mailtask/internal/objsink"
	"mailtask/internal/pgstore"
	"mailtask/internal/sink"
)

// clusterCases are failures of cluster mode's object store and database,
// made by objsink and pgx as a run meets them: none of them may get
// the hint of a mail server's host, port or password.
var clusterCases = []catalogueCase{
	{"S3 NoSuchBucket", "S3 no such bucket", s3Refused(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist."), "correct the bucket in the task's destination", true},
	{"S3 InvalidAccessKeyId", "S3 access key unknown", s3Refused(http.StatusForbidden, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."), "s3_access_key_id_env", true},
	{"S3 unknown key at versitygw", "S3 access key unknown", s3Refused(http.StatusNotFound, "XAdminUserNotFound", "No user exists with the provided access key ID."), "s3_access_key_id_file", true},
	{"S3 SignatureDoesNotMatch", "S3 secret wrong", s3Refused(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."), "s3_secret_access_key_env", true},
	{"S3 region", "S3 wrong region", s3Refused(http.StatusBadRequest, "AuthorizationHeaderMalformed", `The authorization header is malformed; the region "eu-west-1" is wrong; expecting "us-east-1"`), "s3_region", true},
	{"S3 AccessDenied", "S3 access denied", s3Refused(http.StatusForbidden, "AccessDenied", "Access Denied"), "s3:PutObject", true},
	{"S3 clock", "S3 clock skew", s3Refused(http.StatusForbidden, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."), "clock", true},
	{"S3 connection refused", "S3 unreachable", s3Unreachable, "s3_endpoint", true},
	{"S3 If-None-Match ignored", "S3 create-only ignored", s3Ignoring, `s3_create_only = "check_first"`, true},
	{"database password", "database sign-in refused", pgRefused("28P01", `password authentication failed for user "mailtask"`), "percent-encoded", true},
	{"database missing", "database missing", pgRefused("3D000", `database "mailtsak" does not exist`), "createdb", true},
	{"database pooler parameter", "database pooler parameter", pgRefused("08P01", "unsupported startup parameter: search_path"), "ignore_startup_parameters", true},
	{"database prepared statement taken", "database pooler statements", pgStatementRefused("42P05", `prepared statement "stmtcache_102537ecf705892264756d5755e541af82cb1fb7ccf4c147" already exists`), "default_query_exec_mode", true},
	{"database restarting", "database unreachable", pgRefused("57P03", "the database system is starting up"), "state_store_env", true},
	{"database connection refused", "database unreachable", pgUnreachable, "Check that PostgreSQL is up", true},
	{"token key lacking", "token key", func(*testing.T) error {
		return fmt.Errorf("the tokens of account \"a\": %w: they were sealed with key 1a2b3c4d, which this node lacks (it has key 5e6f7a8b (token_key_env K))", pgstore.ErrTokenKey)
	}, "token_key_previous_env", true},
}

func TestClusterCatalogue(t *testing.T) {
	t.Parallel()
	runCases(t, clusterCases)
	for _, c := range clusterCases {
		hint := diagnose.Hint(c.err(t))
		for _, mailbox := range []string{"IMAP", "POP3", "password_env", "ca_file", "account's"} {
			if strings.Contains(hint, mailbox) {
				t.Errorf("%s: the hint sends the admin to the mailbox's settings (%s): %q", c.name, mailbox, hint)
			}
		}
	}
}

// s3Refused is a put that an S3 server refuses with code, as objsink
// reports it to a run.
func s3Refused(status int, code, message string) func(*testing.T) error {
	return func(t *testing.T) error {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>1</RequestId></Error>`, code, message)
		}))
		t.Cleanup(srv.Close)
		return put(t, srv.URL)
	}
}

// s3Ignoring is a put to a store that takes every put, also one of a
// key that exists: one that ignores If-None-Match: *.
func s3Ignoring(t *testing.T) error {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"etag"`)
	}))
	t.Cleanup(srv.Close)
	return put(t, srv.URL)
}

// s3Unreachable is a put to an endpoint where nothing listens.
func s3Unreachable(t *testing.T) error { return put(t, "http://"+closedPort(t)) }

// put writes a file to endpoint as a run does, through objsink.
func put(t *testing.T, endpoint string) error {
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials:      credentials.NewStaticCredentialsProvider("id", "secret", ""),
		RetryMaxAttempts: 1,
	})
	dest, err := objsink.Open(objsink.Options{Root: "s3://invoices/a", Client: client, SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer dest.Close()
	f, err := dest.Folder("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Stage(bytes.NewReader([]byte("%PDF")), sink.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err = f.PutStaged(ctx, "report.pdf", p); err == nil {
		t.Fatal("the put succeeded")
	}
	return fmt.Errorf("uid:7: %w", err)
}

// pgRefused is a connection that a PostgreSQL server refuses with the
// SQLSTATE code, as pgx reports it.
func pgRefused(code, message string) func(*testing.T) error {
	return func(t *testing.T) error {
		addr := pgServer(t, func(be *pgproto3.Backend) {
			be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: code, Message: message})
			be.Flush()
		})
		return pgConnect(t, addr)
	}
}

// pgServer listens on loopback for one connection, reads its startup
// message and hands the rest to serve; it returns the address.
func pgServer(t *testing.T, serve func(be *pgproto3.Backend)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		be := pgproto3.NewBackend(conn, conn)
		if _, err := be.ReceiveStartupMessage(); err != nil {
			return
		}
		serve(be)
	}()
	return ln.Addr().String()
}

// pgStatementRefused is a session whose server refuses the first
// statement pgx prepares with the SQLSTATE code, as a server does that a
// pooler in transaction mode hands one client after another.
func pgStatementRefused(code, message string) func(*testing.T) error {
	return func(t *testing.T) error {
		addr := pgServer(t, func(be *pgproto3.Backend) {
			be.Send(&pgproto3.AuthenticationOk{})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			be.Flush()
			for { // Parse, Describe, then Sync
				msg, err := be.Receive()
				if err != nil {
					return
				}
				if _, ok := msg.(*pgproto3.Sync); ok {
					break
				}
			}
			be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: code, Message: message})
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			be.Flush()
			be.Receive() // the client's Terminate
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, "postgres://mailtask:secret@"+addr+"/mailtask?sslmode=disable&default_query_exec_mode=cache_statement")
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var n int
		err = conn.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM mailtask_schema").Scan(&n)
		if err == nil {
			t.Fatal("the statement succeeded")
		}
		return fmt.Errorf("read the schema version: %w", err)
	}
}

// pgUnreachable is a connection to a port where nothing listens.
func pgUnreachable(t *testing.T) error { return pgConnect(t, closedPort(t)) }

func pgConnect(t *testing.T, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://mailtask:secret@"+addr+"/mailtask?sslmode=disable")
	if err == nil {
		conn.Close(ctx)
		t.Fatal("the connection succeeded")
	}
	return fmt.Errorf("read the schema version: %w", err)
}

// closedPort is an address on loopback where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
