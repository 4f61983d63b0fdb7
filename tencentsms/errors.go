package tencentsms

import (
	"errors"
	"fmt"
	"slices"
)

// Sentinels reachable with errors.Is.
var (
	// ErrNotSent marks a *TransportError where the request was never
	// completely written: nothing reached Tencent, so it is safe to retry.
	ErrNotSent = errors.New("not sent")

	// ErrOutcomeUnknown marks a *TransportError where the request was written
	// (or an unreadable answer came back): Tencent may have acted on it.
	ErrOutcomeUnknown = errors.New("outcome unknown")

	// ErrInvalidArgument marks an *ArgumentError: a configuration value or
	// call argument rejected locally, before any network I/O.
	ErrInvalidArgument = errors.New("invalid argument")
)

// Error is an API error answered by Tencent (Response.Error), for example
// "FailedOperation.InsufficientBalanceInSmsPackage". Match it with errors.As.
//
// Per-number failures of SendSms are not an Error: they come back in
// SendResult.Statuses with the same codes.
type Error struct {
	Action     string // API action, e.g. "SendSms"
	Code       string // Tencent error code, e.g. "LimitExceeded.AppDailyLimit"
	Message    string // Tencent's description; not stable, never match on it
	RequestID  string // Tencent's RequestId, for support tickets
	HTTPStatus int    // status of the HTTP response carrying the error
}

func (e *Error) Error() string {
	s := "tencentsms: " + e.Action + ": " + e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " (request id " + e.RequestID + ")"
	}
	return s
}

// IsCode reports whether e's code is one of codes.
func (e *Error) IsCode(codes ...string) bool {
	return slices.Contains(codes, e.Code)
}

// TransportError is a call that got no usable answer from Tencent.
//
// errors.Is(err, ErrNotSent) holds when Sent is false and
// errors.Is(err, ErrOutcomeUnknown) when Sent is true; Err (for example
// context.DeadlineExceeded or a *net.OpError) is reachable too.
type TransportError struct {
	Action string
	// Sent reports whether the request was (or may have been) completely
	// written to the connection. If true the outcome is unknown: Tencent may
	// have processed the request.
	Sent bool
	// StatusCode is the HTTP status of a response that could not be used
	// (non-JSON, 5xx page, truncated body, redirect), or 0 if none arrived.
	StatusCode int
	// Err is the underlying cause.
	Err error
}

func (e *TransportError) Error() string {
	s := "tencentsms: " + e.Action + ": "
	if e.Sent {
		s += ErrOutcomeUnknown.Error()
	} else {
		s += ErrNotSent.Error()
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the outcome sentinel and the underlying cause.
func (e *TransportError) Unwrap() []error {
	errs := []error{ErrNotSent}
	if e.Sent {
		errs[0] = ErrOutcomeUnknown
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// ArgumentError is a configuration value or call argument rejected locally.
// errors.Is(err, ErrInvalidArgument) holds for it.
type ArgumentError struct {
	Field  string // e.g. "Config.Endpoint", "SendRequest.PhoneNumbers[3]"
	Reason string
}

func (e *ArgumentError) Error() string {
	return "tencentsms: invalid " + e.Field + ": " + e.Reason
}

// Is makes errors.Is(err, ErrInvalidArgument) hold.
func (e *ArgumentError) Is(target error) bool { return target == ErrInvalidArgument }

func argErr(field, format string, args ...any) error {
	return &ArgumentError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
