package objsink

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

	"mailtask/internal/version"
)

// ClientConfig is how to reach the object store. Every field may be left
// empty for the standard AWS chain to fill: AWS_REGION, AWS_ACCESS_KEY_ID
// and AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, the
// shared config and credentials files, web identity, the instance's role.
type ClientConfig struct {
	// Endpoint is the store's URL, such as http://127.0.0.1:9000; "" for
	// AWS (or the endpoint the environment names).
	Endpoint string
	// Region defaults to the chain's, and to us-east-1 if it names none
	// (servers other than AWS mostly ignore it).
	Region string
	// PathStyle addresses buckets in the path (endpoint/bucket/key), as
	// servers other than AWS need, rather than in the host name. nil
	// means: path-style exactly when an endpoint is set, here or in the
	// environment.
	PathStyle *bool
	// AccessKeyID and SecretAccessKey, both or neither, replace the
	// chain's credentials.
	AccessKeyID, SecretAccessKey string
	// StallTimeout bounds how long a connection to the store may move
	// nothing; 0 means DefaultStallTimeout.
	StallTimeout time.Duration
}

// DefaultRegion is the region when nothing names one.
const DefaultRegion = "us-east-1"

// NewClient returns an S3 client as cfg and the environment say.
func NewClient(ctx context.Context, cfg ClientConfig) (*s3.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if (cfg.AccessKeyID == "") != (cfg.SecretAccessKey == "") {
		return nil, fmt.Errorf("S3 credentials: give both the access key ID and the secret access key, or neither (for the standard AWS chain)")
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")))
	}
	// The SDK's default integrity checks (a CRC in a trailer of chunked
	// uploads) are not what every S3-compatible server takes; the
	// SHA-256 sent with each put (put.go) checks the content instead.
	// The store's access log tells mailtask's requests by their
	// User-Agent: the SDK's name an application ID (its "/" shown as
	// "-"), the puts made here version.UserAgent itself.
	opts = append(opts, awsconfig.WithAppID(version.UserAgent()),
		awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("S3 configuration: %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = DefaultRegion
	}
	pathStyle := cfg.Endpoint != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
	if cfg.PathStyle != nil {
		pathStyle = *cfg.PathStyle
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = pathStyle
		// The SDK has given its own client the timeouts it gives S3 by
		// now (it leaves a client not its own as it is). Its read
		// timeout, off by default, would wrap the connections in one
		// that hides sendfile(2) from net/http: ours bounds reads and
		// writes and keeps it.
		if c, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
			o.HTTPClient = c.WithReadTimeout(0).WithTransportOptions(func(tr *http.Transport) {
				tr.DialContext = stallingDialer(tr.DialContext, cmp.Or(cfg.StallTimeout, DefaultStallTimeout))
			})
		}
		// The SDK's own log lines (a response body it could not drain,
		// a checksum it did not check) go to stderr past the configured
		// format; whatever fails reaches the run as an error.
		o.Logger = logging.Nop{}
	}), nil
}
