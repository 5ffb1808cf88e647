package objsink

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/auth"
	"github.com/aws/smithy-go/encoding/httpbinding"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"mailtask/internal/version"
)

// putter sends the PUTs that write an object in one request (all but
// multipart uploads), most of what a run asks of the store, as the
// SDK's PutObject would, but without the stack of some sixty
// middlewares the SDK builds and walks for every call, nor its endpoint
// resolution, twice per call. Those cost a third of the client's CPU on
// puts of 16 KiB (BenchmarkPutStaged: 620 µs and 548 allocations a put
// with them, 400 µs and 151 without), and a fifth of mailtask's in the
// corpus of make bench in cluster mode. What it keeps of the SDK is what
// the request's meaning rests on: the client's credentials, HTTP client
// (the stall guard on every connection) and retryer (which errors are
// tried again, how often, after how long), the SigV4 signer, the clock
// skew correction, and the endpoint the SDK's rules resolve for the
// bucket, once; its failures are the SDK's error types, which the hints
// of package diagnose and hasStatus read. HEADs, GETs and multipart
// uploads, rare, go through the SDK.
type putter struct {
	http    s3.HTTPClient
	creds   aws.CredentialsProvider // nil: anonymous, nothing signed
	retryer aws.RetryerV2
	signer  *v4.Signer
	options s3.Options // what the endpoint is resolved from
	bucket  string

	// The bucket's endpoint, resolved at the first put.
	endpointMu sync.Mutex
	endpoint   *bucketEndpoint
	// skew is how far the store's clock is ahead of this machine's, as
	// the last refusal that blamed the clock said (clockSkew).
	skew atomic.Int64
}

// bucketEndpoint is where a bucket's objects are and how requests to
// them are signed.
type bucketEndpoint struct {
	url           url.URL
	header        http.Header
	signingName   string
	signingRegion string
}

// continueAbove is the size above which a put asks the store whether it
// will take the content before sending it (Expect: 100-continue), as
// the SDK does: a refused put of a large file then sends nothing.
const continueAbove = 2 << 20

func newPutter(client *s3.Client, bucket string) *putter {
	o := client.Options()
	r, ok := o.Retryer.(aws.RetryerV2)
	if !ok {
		r = retryerV2{o.Retryer}
	}
	creds := o.Credentials
	if _, anonymous := creds.(aws.AnonymousCredentials); anonymous {
		creds = nil
	}
	return &putter{http: o.HTTPClient, creds: creds, retryer: r, options: o, bucket: bucket,
		signer: v4.NewSigner(func(so *v4.SignerOptions) { so.DisableURIPathEscaping = true })}
}

// retryerV2 gives a retryer of the SDK's older interface the newer one.
type retryerV2 struct{ aws.Retryer }

func (r retryerV2) GetAttemptToken(context.Context) (func(error) error, error) {
	return r.GetInitialToken(), nil
}

// resolve returns the bucket's endpoint, resolving it by the SDK's rules
// the first time. The rules read the bucket and the client's options,
// not the key, so one answer serves every object.
func (p *putter) resolve(ctx context.Context) (*bucketEndpoint, error) {
	p.endpointMu.Lock()
	defer p.endpointMu.Unlock()
	if p.endpoint != nil {
		return p.endpoint, nil
	}
	o := p.options
	ep, err := o.EndpointResolverV2.ResolveEndpoint(ctx, s3.EndpointParameters{
		Bucket: aws.String(p.bucket), Region: aws.String(o.Region), Endpoint: o.BaseEndpoint,
		UseFIPS:                        aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		UseDualStack:                   aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		ForcePathStyle:                 aws.Bool(o.UsePathStyle),
		Accelerate:                     aws.Bool(o.UseAccelerate),
		DisableMultiRegionAccessPoints: aws.Bool(o.DisableMultiRegionAccessPoints),
		UseArnRegion:                   aws.Bool(o.UseARNRegion),
		DisableS3ExpressSessionAuth:    o.DisableS3ExpressSessionAuth,
	})
	if err != nil {
		return nil, &smithy.OperationError{ServiceID: s3.ServiceID, OperationName: "PutObject", Err: fmt.Errorf("resolve the endpoint of bucket %s: %w", p.bucket, err)}
	}
	e := &bucketEndpoint{url: ep.URI, header: ep.Headers, signingName: "s3", signingRegion: o.Region}
	if schemes, ok := auth.GetAuthOptions(&ep.Properties); ok && len(schemes) > 0 {
		scheme := schemes[0]
		// The endpoint rules name the scheme "sigv4"; smithy, in full.
		if scheme.SchemeID != "sigv4" && scheme.SchemeID != auth.SchemeIDSigV4 {
			return nil, fmt.Errorf("bucket %s is signed for with %s, which mailtask's puts do not speak; use a general purpose bucket", p.bucket, scheme.SchemeID)
		}
		if name, ok := smithyhttp.GetSigV4SigningName(&scheme.SignerProperties); ok {
			e.signingName = name
		}
		if region, ok := smithyhttp.GetSigV4SigningRegion(&scheme.SignerProperties); ok {
			e.signingRegion = region
		}
	}
	p.endpoint = e
	return e, nil
}

// put puts s under key, create-only if asked, in one request, tried
// again as the client's retryer says.
func (p *putter) put(ctx context.Context, key string, s *staged, createOnly bool) error {
	ep, err := p.resolve(ctx)
	if err != nil {
		return err
	}
	release := func(error) error { return nil }
	attempt := 1
	for ; ; attempt++ {
		err = p.attempt(ctx, ep, key, s, createOnly, attempt)
		release(err)
		if err == nil || !p.retryer.IsErrorRetryable(err) {
			break
		}
		if most := p.retryer.MaxAttempts(); most > 0 && attempt >= most {
			err = &retry.MaxAttemptsError{Attempt: attempt, Err: err}
			break
		}
		var tokenErr error
		if release, tokenErr = p.retryer.GetRetryToken(ctx, err); tokenErr != nil {
			err = errors.Join(err, tokenErr)
			break
		}
		delay, delayErr := p.retryer.RetryDelay(attempt, err)
		if delayErr != nil {
			err = delayErr
			break
		}
		if sleepErr := sleep(ctx, delay); sleepErr != nil {
			err = &aws.RequestCanceledError{Err: sleepErr}
			break
		}
	}
	if err != nil {
		return &smithy.OperationError{ServiceID: s3.ServiceID, OperationName: "PutObject", Err: err}
	}
	// The store answered once it had the whole body. Only a first attempt
	// sends the file itself, and one that failed may be sending it still.
	s.sending = s.sending && attempt > 1
	return nil
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attempt sends one PUT of s. Only a put's first attempt sends its spool
// file itself, which net/http sends with sendfile(2) over plain HTTP,
// from the page cache, with no copy through this process: sendfile
// moves the file's offset, which an attempt that failed may still be
// moving (net/http sends on after a reply it took early), so a retry
// reads the file at offsets of its own.
func (p *putter) attempt(ctx context.Context, ep *bucketEndpoint, key string, s *staged, createOnly bool, attempt int) error {
	release, err := p.retryer.GetAttemptToken(ctx)
	if err != nil {
		return fmt.Errorf("the S3 client's retryer allowed no attempt: %w", err)
	}
	err = p.send(ctx, ep, key, s, createOnly, attempt)
	release(err)
	return err
}

func (p *putter) send(ctx context.Context, ep *bucketEndpoint, key string, s *staged, createOnly bool, attempt int) error {
	var body io.Reader
	switch {
	case s.file != nil && attempt == 1:
		if _, err := s.file.Seek(0, io.SeekStart); err != nil {
			return err
		}
		body, s.sending = spoolBody{s.file}, true
	case s.file != nil:
		body = io.NewSectionReader(s.file, 0, s.size)
	default:
		body = bytes.NewReader(s.mem)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, "", body)
	if err != nil {
		return err
	}
	req.URL = objectURL(&ep.url, key)
	req.Host = req.URL.Host
	req.ContentLength = s.size
	h := req.Header
	for name, values := range ep.header {
		h[name] = values
	}
	h.Set("User-Agent", version.UserAgent())
	h.Set("Content-Type", contentType(key))
	h.Set("X-Amz-Meta-"+SHA256Metadata, hex.EncodeToString(s.sum[:]))
	h.Set("X-Amz-Checksum-Sha256", base64.StdEncoding.EncodeToString(s.sum[:]))
	h.Set("X-Amz-Content-Sha256", unsignedPayloadHash)
	if createOnly {
		h.Set("If-None-Match", "*")
	}
	if s.size > continueAbove {
		h.Set("Expect", "100-continue")
	}
	if p.creds != nil {
		creds, err := p.creds.Retrieve(ctx)
		if err != nil {
			return fmt.Errorf("S3 credentials: %w", err)
		}
		if creds.SessionToken != "" {
			h.Set("X-Amz-Security-Token", creds.SessionToken)
		}
		signed := time.Now().Add(time.Duration(p.skew.Load())).UTC()
		if err := p.signer.SignHTTP(ctx, creds, req, unsignedPayloadHash, ep.signingName, ep.signingRegion, signed); err != nil {
			return fmt.Errorf("sign the put of %s: %w", key, err)
		}
	}
	resp, err := p.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return &smithy.CanceledError{Err: ctx.Err()}
		}
		return &smithyhttp.RequestSendError{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		// Read to the end, so that the connection is kept for the next
		// put, but no further than a reply of S3's is long: a store that
		// sends on and on loses the connection, not the run.
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxReplyBody))
		return nil
	}
	return p.clockSkew(resp, refusal(resp))
}

// skewThreshold is how far the store's clock must be from ours for a
// refusal of the signature to be put down to the clock: the SDK's.
const skewThreshold = 4 * time.Minute

// clockSkewCodes are the refusals a signature made by a clock that is
// off gets: the SDK's list.
var clockSkewCodes = []string{"InvalidSignatureException", "SignatureDoesNotMatch", "AuthFailure", "RequestTimeTooSkewed", "AccessDeniedException"}

// clockSkew makes a refusal of the signature retryable when the reply's
// Date is further from this machine's clock than the offset the request
// was signed with, and signs the next requests by the store's clock,
// as the SDK does: a machine whose clock is off still writes.
func (p *putter) clockSkew(resp *http.Response, err error) error {
	var api smithy.APIError
	if !errors.As(err, &api) || !slices.Contains(clockSkewCodes, api.ErrorCode()) {
		return err
	}
	date, dateErr := http.ParseTime(resp.Header.Get("Date"))
	if dateErr != nil {
		return err
	}
	skew := time.Until(date)
	if (skew - time.Duration(p.skew.Load())).Abs() <= skewThreshold {
		return err
	}
	p.skew.Store(int64(skew))
	return &clockSkewError{err}
}

// clockSkewError is a refusal of a request signed by a clock that was
// off, which the retryer tries again.
type clockSkewError struct{ error }

func (e *clockSkewError) Unwrap() error        { return e.error }
func (e *clockSkewError) RetryableError() bool { return true }

// unsignedPayloadHash is SigV4's x-amz-content-sha256 for content the
// signature does not cover. A put signs the checksum header, not the
// content: the content's integrity rides on its SHA-256 in
// x-amz-checksum-sha256, a header the signature covers, which the store
// checks against what it received and refuses the put (BadDigest) when
// they differ. Signing the content as well made the store hash every
// byte twice, once per header, for no more assurance; AWS's SDKs send
// the same over HTTPS.
const unsignedPayloadHash = "UNSIGNED-PAYLOAD"

// objectURL is the URL of key at a bucket's endpoint, its key escaped
// as the SDK escapes it.
func objectURL(endpoint *url.URL, key string) *url.URL {
	u := *endpoint
	u.RawPath = strings.TrimSuffix(endpoint.EscapedPath(), "/") + "/" + httpbinding.EscapePath(key, false)
	u.Path = strings.TrimSuffix(endpoint.Path, "/") + "/" + key
	return &u
}

// spoolBody is a spool file as a request's body. net/http sends it with
// sendfile(2) because it is a syscall.Conn (it looks through its own
// wrappers to the body, but not through io.NopCloser once it has wrapped
// that), and closes it once sent: that must leave the file open, for
// Discard.
type spoolBody struct{ *os.File }

func (spoolBody) Close() error { return nil }

// maxReplyBody bounds what is read of a reply's body: an S3 error is a
// short XML document, a put's success has none.
const maxReplyBody = 64 << 10

// refusal is the error of a put the store refused, as the SDK makes it:
// an API error with the S3 error code of the reply's body, in a
// response error carrying the HTTP status and the request ID.
func refusal(resp *http.Response) error {
	var e struct {
		Code      string `xml:"Code"`
		Message   string `xml:"Message"`
		RequestID string `xml:"RequestId"`
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxReplyBody))
	xml.Unmarshal(data, &e)
	api := &smithy.GenericAPIError{Code: e.Code, Message: e.Message}
	if api.Code == "" {
		api.Code = strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "")
	}
	if api.Message == "" {
		api.Message = api.Code
	}
	id := e.RequestID
	if id == "" {
		id = resp.Header.Get("X-Amz-Request-Id")
	}
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: api}, RequestID: id}
}
