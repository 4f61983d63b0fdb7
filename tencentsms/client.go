package tencentsms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	sms "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/sms/v20210111"
)

// Client calls the Tencent Cloud SMS API. It is safe for concurrent use.
// Each method makes at most one HTTP request and never retries.
type Client struct {
	sdk     *sms.Client
	timeout time.Duration
	owned   *http.Transport // the default transport, closed by Close; nil if injected
}

// New validates cfg, applies its defaults and returns a Client. An invalid
// field is reported as an *ArgumentError naming it.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	ep, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if common.DefaultHttpClient != nil {
		// The SDK would hand this shared *http.Client to every SDK client, and
		// installing our transport on it would change it for all of them.
		return nil, errors.New("tencentsms: the SDK's global common.DefaultHttpClient is set; refusing to modify a shared client")
	}

	base := cfg.Transport
	var owned *http.Transport
	if base == nil {
		owned = newTransport(cfg.MaxConns)
		base = owned
	}

	cpf := profile.NewClientProfile()
	cpf.HttpProfile.ReqMethod = "POST"
	cpf.HttpProfile.Scheme = ep.scheme
	cpf.HttpProfile.Endpoint = ep.host
	// The SDK turns ReqTimeout (whole seconds) into http.Client.Timeout; 0
	// leaves the per-call context deadline as the only bound.
	cpf.HttpProfile.ReqTimeout = 0
	cpf.Language = "en-US"
	cpf.Debug = false
	// No regional circuit breaker: it would switch requests to another
	// endpoint behind our back.
	cpf.DisableRegionBreaker = true
	// One attempt per call. UnsafeRetryOnConnectionFailure would also add an
	// X-Idempotency-Key header, making net/http replay the POST by itself.
	cpf.NetworkFailureMaxRetries = 0
	cpf.RateLimitExceededMaxRetries = 0
	cpf.UnsafeRetryOnConnectionFailure = false

	sdk := &sms.Client{}
	sdk.Init(cfg.Region).
		WithCredential(common.NewCredential(cfg.SecretID, cfg.SecretKey)).
		WithProfile(cpf).
		WithHttpTransport(&classifyingTransport{next: base}).
		WithLogger(log.New(io.Discard, "", 0)).
		WithDebug(false)

	return &Client{sdk: sdk, timeout: cfg.Timeout, owned: owned}, nil
}

// Close releases the idle connections of the client's default transport. An
// injected Config.Transport is left alone. The Client stays usable.
func (c *Client) Close() error {
	if c.owned != nil {
		c.owned.CloseIdleConnections()
	}
	return nil
}

// call runs one SDK call under the client's timeout, with a callState in the
// context for the classifying transport, and turns its error into *Error or
// *TransportError.
func (c *Client) call(ctx context.Context, action string, send func(context.Context) error) (snapshot, error) {
	if err := ctx.Err(); err != nil {
		return snapshot{}, &TransportError{Action: action, Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	st := &callState{}
	err := sendRecovered(withCallState(ctx, st), send)
	snap := st.snapshot()
	if err != nil {
		return snap, classify(action, snap, err)
	}
	return snap, nil
}

// sendRecovered runs send, turning a panic into an error. The SDK panics on
// some server output (TryReadErr dereferences nil for a body of "null"); a
// malformed answer must not crash the worker. classify then reports it as an
// unknown outcome, since a response had arrived.
func sendRecovered(ctx context.Context, send func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("SDK panicked handling the response: %v", p)
		}
	}()
	return send(ctx)
}

// classify maps an error returned by the SDK, together with what the
// transport saw, to *Error or *TransportError.
func classify(action string, s snapshot, err error) error {
	var sdkErr *tcerr.TencentCloudSDKError
	isSDK := errors.As(err, &sdkErr)
	if isSDK && s.status != 0 && sdkErr.Code != "" && !strings.HasPrefix(sdkErr.Code, "ClientError.") {
		return &Error{
			Action:     action,
			Code:       sdkErr.Code,
			Message:    sdkErr.Message,
			RequestID:  sdkErr.RequestId,
			HTTPStatus: s.status,
		}
	}

	te := &TransportError{Action: action, StatusCode: s.status}
	switch {
	case s.status != 0:
		// An answer arrived, so the request reached the server, but it was
		// not a usable Tencent response.
		te.Sent = true
		cause := s.bodyErr
		if cause == nil {
			cause = s.rtErr
		}
		if cause == nil {
			cause = errors.New(sdkSummary(err))
		}
		te.Err = fmt.Errorf("unusable HTTP %d response: %w", s.status, cause)
	case s.written:
		te.Sent = true
		te.Err = s.rtErr
	default:
		te.Err = s.rtErr
	}
	if te.Err == nil {
		te.Err = errors.New(sdkSummary(err))
	}
	return te
}

// sdkSummary describes an SDK error briefly. SDK messages can embed the whole
// response body, so for SDK errors only the code is kept.
func sdkSummary(err error) string {
	var sdkErr *tcerr.TencentCloudSDKError
	if !errors.As(err, &sdkErr) {
		return err.Error()
	}
	switch sdkErr.Code {
	case "":
		return "not a recognised Tencent answer"
	case "ClientError.ParseJsonError":
		return "body is not a Tencent JSON answer"
	case "ClientError.HttpStatusCodeError":
		return "HTTP error status without a Tencent error"
	default:
		return "SDK error " + sdkErr.Code
	}
}

// malformed is the error for a 200 answer that parsed but lacks the Response
// object: the request reached the server, the outcome is unknown.
func malformed(action string, s snapshot) error {
	return &TransportError{
		Action:     action,
		Sent:       true,
		StatusCode: s.status,
		Err:        errors.New("malformed response: no Response object"),
	}
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func num(p *uint64) int {
	if p == nil {
		return 0
	}
	if *p > math.MaxInt {
		return math.MaxInt
	}
	return int(*p)
}

// unixTime converts Tencent's unix seconds; absent or 0 is the zero Time.
func unixTime(p *uint64) time.Time {
	if p == nil || *p == 0 || *p > math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(int64(*p), 0).UTC()
}
