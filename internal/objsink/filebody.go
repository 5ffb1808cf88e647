package objsink

import (
	"context"
	"io"
	"net/http"
	"os"

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

// withFileBody marks ctx's put as sending all of file.
func withFileBody(ctx context.Context, file *os.File) context.Context {
	return context.WithValue(ctx, fileBodyKey{}, file)
}

func (c fileBodies) Do(req *http.Request) (*http.Response, error) {
	if file, ok := req.Context().Value(fileBodyKey{}).(*os.File); ok && req.Body != nil {
		// Each attempt sends the file from its start, as the SDK
		// rewinds its own reader for a retry.
		if _, err := file.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		req.Body = spoolBody{file}
	}
	return c.next.Do(req)
}

// spoolBody is a spool file as a request's body. net/http sends it with
// sendfile(2) because it is a syscall.Conn (it looks through its own
// wrappers to the body, but not through io.NopCloser once it has wrapped
// that), and closes it once sent: that must leave the file open, for a
// retry and for Discard.
type spoolBody struct{ *os.File }

func (spoolBody) Close() error { return nil }
