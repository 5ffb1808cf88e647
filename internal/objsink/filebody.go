package objsink

import (
	"context"
	"io"
	"net/http"
	"os"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// fileBodies is the HTTP client under the SDK's: a put whose content is
// staged in a spool file (withFileBody) sends that file itself as its
// request's body. The SDK hands net/http the content behind a reader of
// its own, which net/http reads into a buffer it allocates for each
// request and writes out 32 KiB at a time; a file it sends with
// sendfile(2) over plain HTTP, from the page cache, with no copy through
// this process (over TLS it reads it as before). On puts of 1 MiB that
// took a quarter of the client's CPU (BenchmarkPutStaged); the corpus of
// make bench spools few files, and gains about 1 %.
type fileBodies struct{ next s3.HTTPClient }

// fileBodyKey is the context key of the spool file holding a put's
// content.
type fileBodyKey struct{}

// fileBody is a put's content in a spool file, and the attempts made at
// sending it.
type fileBody struct {
	file     *os.File
	attempts atomic.Int32
}

// withFileBody marks ctx's put as sending all of body's file.
func withFileBody(ctx context.Context, body *fileBody) context.Context {
	return context.WithValue(ctx, fileBodyKey{}, body)
}

func (c fileBodies) Do(req *http.Request) (*http.Response, error) {
	// Only a put's first attempt sends the file itself: sendfile moves
	// the file's offset, which an attempt that failed may still be moving
	// when the SDK tries again (net/http sends on after a reply it took
	// early). A retry reads the file through the SDK's reader, which reads
	// at offsets of its own.
	if body, ok := req.Context().Value(fileBodyKey{}).(*fileBody); ok && req.Body != nil && body.attempts.Add(1) == 1 {
		if _, err := body.file.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		req.Body = spoolBody{body.file}
	}
	return c.next.Do(req)
}

// spoolBody is a spool file as a request's body. net/http sends it with
// sendfile(2) because it is a syscall.Conn (it looks through its own
// wrappers to the body, but not through io.NopCloser once it has wrapped
// that), and closes it once sent: that must leave the file open, for
// Discard.
type spoolBody struct{ *os.File }

func (spoolBody) Close() error { return nil }
