// Package tencentsms is smsdispatch's client for the Tencent Cloud SMS API
// (version 2021-01-11), built on the official tencentcloud-sdk-go, which does
// the request signing and defines the wire types.
//
// # One attempt per call
//
// Every method makes exactly one HTTP request, or none when an argument is
// invalid. The SDK's own retries (NetworkFailureMaxRetries,
// RateLimitExceededMaxRetries, UnsafeRetryOnConnectionFailure), its region
// circuit breaker and its debug logging are all switched off, no
// Idempotency-Key header is ever set (net/http would silently replay such a
// POST), and redirects are refused. SendSms has no idempotency key, so every
// extra attempt could send an SMS twice: retrying is the caller's decision,
// made once, in the queue.
//
// # Errors
//
// A call fails with one of:
//
//   - *ArgumentError (errors.Is(err, ErrInvalidArgument)): an argument was
//     rejected locally, before any network I/O. Never worth retrying.
//   - *Error: Tencent answered with an API error (Response.Error). It carries
//     Tencent's Code and RequestID; match it with errors.As.
//   - *TransportError: no usable answer. errors.Is(err, ErrNotSent) means the
//     request was never completely written (connection refused, DNS, TLS,
//     context cancelled or expired before writing), so retrying cannot
//     duplicate anything. errors.Is(err, ErrOutcomeUnknown) means the request
//     was written (or an answer arrived that could not be read: a reset or
//     timeout while waiting, HTTP 5xx garbage, a truncated body) and Tencent may
//     have acted on it: for SendSms the messages may have gone out, for
//     PullSmsSendStatus the receipts may have been consumed. Reconcile before
//     retrying.
//
// The SDK reports every transport failure as the same ClientError.NetworkError,
// so the client tells the two apart itself: it wraps the HTTP transport in a
// RoundTripper that watches each request with net/http/httptrace
// (WroteRequest) and the response body, and passes that per-call state through
// the request context.
//
// SendSms also reports a per-number result (SendStatus.Code, "Ok" on success)
// that uses the same code list as Error.Code: both layers need classifying.
//
// # Transport
//
// By default the client owns a dedicated *http.Transport speaking HTTP/1.1,
// with up to Config.MaxConns connections to the endpoint: one connection per
// in-flight request, so a reset connection puts at most one request in doubt
// (with HTTP/2 one reset would affect every multiplexed request). Size MaxConns
// to the worker's concurrency. Call Close to release idle connections.
//
// # Times
//
// Unix timestamps from Tencent are returned as time.Time in UTC. Parameters
// that Tencent takes as hour strings (yyyymmddhh: SendStatusStatistics,
// SmsPackagesStatistics) are formatted in Beijing time (UTC+8, a fixed zone, so
// no tzdata is needed).
//
// Phone numbers are personal data: log them through MaskPhone.
package tencentsms
