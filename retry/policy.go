package retry

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/beijing"
)

// Action is what the dispatcher does with the numbers an outcome covers. The
// zero Action is not a valid action.
type Action int

const (
	// Done: Tencent accepted the number.
	Done Action = iota + 1
	// RetryCall: send the numbers again in a new call after Decision.Delay
	// (at Decision.At). Nothing was accepted, so this cannot duplicate.
	RetryCall
	// RetryNumberAt: send the numbers again at Decision.At, not before.
	RetryNumberAt
	// Reconcile: the outcome is unknown; query Tencent's send records for
	// these numbers and resend only those with no record.
	Reconcile
	// FailNumber: settle the numbers as failed with Decision.Code.
	FailNumber
	// FailJob: settle every unsent number of the job as failed with
	// Decision.Code.
	FailJob
	// HaltApp: stop sending on this SdkAppId, alert, and probe again at
	// Decision.At. The numbers stay pending.
	HaltApp
	// DeferUntil: pause the app (or at least this job) until Decision.At.
	// The numbers stay pending.
	DeferUntil
)

var actionNames = [...]string{
	Done:          "done",
	RetryCall:     "retry-call",
	RetryNumberAt: "retry-number-at",
	Reconcile:     "reconcile",
	FailNumber:    "fail-number",
	FailJob:       "fail-job",
	HaltApp:       "halt-app",
	DeferUntil:    "defer-until",
}

// String returns a short lower-case name, usable as a metric label.
func (a Action) String() string {
	if a > 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// Transport says whether an answer arrived from Tencent.
type Transport int

const (
	// TransportNone: an answer arrived; Outcome.Code holds its code.
	TransportNone Transport = iota
	// TransportNotSent: no answer, and the request was certainly not
	// written (dial refused, DNS failure).
	TransportNotSent
	// TransportUnknown: no answer, and the request may have been written
	// (timeout or reset after the body was sent).
	TransportUnknown
)

// String returns a short lower-case name.
func (t Transport) String() string {
	switch t {
	case TransportNone:
		return "none"
	case TransportNotSent:
		return "not-sent"
	case TransportUnknown:
		return "unknown"
	}
	return "Transport(" + strconv.Itoa(int(t)) + ")"
}

// Outcome is one result of a SendSms call.
type Outcome struct {
	// Code is the Tencent code: Response.Error.Code for a failed call, or
	// SendStatusSet[i].Code for one number. "" or "Ok" with TransportNone
	// is success. With a transport failure it may be empty or hold the
	// SDK's code (for example "ClientError.NetworkError"); Transport wins.
	Code string
	// Transport says whether an answer arrived. Any value other than
	// TransportNone or TransportNotSent is read as TransportUnknown.
	Transport Transport
	// PerNumber is true for a SendStatusSet entry (the decision covers one
	// number) and false for a call-level result (it covers every number of
	// the call). The action is the same either way; it is named in Reason.
	PerNumber bool
}

// Job priorities, as in the tasks package.
const (
	PriorityOTP    = "otp"
	PriorityNormal = "normal"
	PriorityBulk   = "bulk"
)

// Job is what the policy needs to know about the job being sent.
type Job struct {
	// Priority is "otp", "normal" or "bulk". Only "otp" changes decisions.
	Priority string
	// ExpiresAt is when an otp job's codes expire; zero means never. It is
	// consulted only for PriorityOTP.
	ExpiresAt time.Time
	// DeferDailyLimit moves numbers that hit a per-number daily limit to the
	// next day (00:00 Beijing) instead of failing them. Leave it false for
	// content that is stale tomorrow (greetings, OTPs).
	DeferDailyLimit bool
}

// Expired reports whether j is an otp job whose codes expired at or before
// now. The dispatcher checks it before sending a parked or deferred batch.
func (j Job) Expired(now time.Time) bool {
	return j.expires() && !now.Before(j.ExpiresAt)
}

func (j Job) expires() bool {
	return j.Priority == PriorityOTP && !j.ExpiresAt.IsZero()
}

// Decision is the policy's answer for one outcome.
type Decision struct {
	Action Action
	// Delay is how long to wait before acting: for RetryCall, RetryNumberAt,
	// HaltApp (until the probe) and DeferUntil, Delay = At - now, never
	// negative. Zero otherwise.
	Delay time.Duration
	// At is when to act again (RetryCall, RetryNumberAt, DeferUntil) or to
	// probe the halted app (HaltApp). Zero otherwise.
	At time.Time
	// Code is the outcome's code in its canonical spelling, or
	// CodeTransportNotSent / CodeTransportUnknown for a transport failure
	// without a code, or CodeOK for success. Failed numbers record it.
	Code string
	// Class is the class of Code, whatever the action (an expired OTP fails
	// with the class of the code that made it late).
	Class Class
	// Expired is true when the numbers fail only because an otp job expired
	// or would expire before the retry.
	Expired bool
	// Reason explains the decision in a few words, for logs and operators.
	// Do not match on it.
	Reason string
}

// Defaults used by DefaultPolicy and for zero Policy fields.
const (
	DefaultBaseDelay           = time.Second
	DefaultMaxDelay            = 5 * time.Minute
	DefaultMaxRetries          = 5
	DefaultMaxTransientRetries = 20
	DefaultThirtySecondDelay   = 35 * time.Second // the 30 s window plus clock slack
	DefaultOneHourDelay        = time.Hour
	DefaultFrequencyDelay      = time.Hour // the window is console-configured and not reported
	DefaultHaltProbe           = 5 * time.Minute
)

// Policy holds the tunables of Decide and Backoff. The zero value is usable:
// each zero field takes its Default constant.
type Policy struct {
	// BaseDelay is the backoff ceiling after the first failed attempt; it
	// doubles with each further attempt up to MaxDelay.
	BaseDelay time.Duration
	// MaxDelay caps the backoff ceiling.
	MaxDelay time.Duration
	// MaxRetries bounds the resends after unlisted and clock codes: attempts
	// 1..MaxRetries are retried, later ones fail. Negative means none.
	MaxRetries int
	// MaxTransientRetries bounds the resends after throttling, a transport
	// failure that sent nothing, and per-number limits. Negative means none.
	MaxTransientRetries int
	// ThirtySecondDelay is the wait after PhoneNumberThirtySecondLimit.
	ThirtySecondDelay time.Duration
	// OneHourDelay is the wait after PhoneNumberOneHourLimit.
	OneHourDelay time.Duration
	// FrequencyDelay is the wait after DeliveryFrequencyLimit.
	FrequencyDelay time.Duration
	// HaltProbe is how long a halted app waits before it is probed again.
	HaltProbe time.Duration
	// Rand returns a float in [0, 1) for jitter; nil uses math/rand/v2.
	// Inject it to make decisions deterministic.
	Rand func() float64
}

// DefaultPolicy returns the policy with every field at its default.
func DefaultPolicy() Policy {
	return Policy{
		BaseDelay:           DefaultBaseDelay,
		MaxDelay:            DefaultMaxDelay,
		MaxRetries:          DefaultMaxRetries,
		MaxTransientRetries: DefaultMaxTransientRetries,
		ThirtySecondDelay:   DefaultThirtySecondDelay,
		OneHourDelay:        DefaultOneHourDelay,
		FrequencyDelay:      DefaultFrequencyDelay,
		HaltProbe:           DefaultHaltProbe,
	}
}

func (p Policy) withDefaults() Policy {
	d := DefaultPolicy()
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.MaxRetries == 0 {
		p.MaxRetries = d.MaxRetries
	}
	if p.MaxTransientRetries == 0 {
		p.MaxTransientRetries = d.MaxTransientRetries
	}
	if p.ThirtySecondDelay <= 0 {
		p.ThirtySecondDelay = d.ThirtySecondDelay
	}
	if p.OneHourDelay <= 0 {
		p.OneHourDelay = d.OneHourDelay
	}
	if p.FrequencyDelay <= 0 {
		p.FrequencyDelay = d.FrequencyDelay
	}
	if p.HaltProbe <= 0 {
		p.HaltProbe = d.HaltProbe
	}
	return p
}

// Backoff returns the wait before resending after failed attempt n (1-based),
// with full jitter: a random duration in [0, ceiling], where ceiling =
// min(MaxDelay, BaseDelay·2^(n-1)). Attempts below 1 count as 1.
func (p Policy) Backoff(attempt int) time.Duration {
	p = p.withDefaults()
	ceiling := p.ceiling(attempt)
	r := rand.Float64
	if p.Rand != nil {
		r = p.Rand
	}
	f := r() * (float64(ceiling) + 1) // [0, ceiling+1): whole nanoseconds 0..ceiling
	switch {
	case !(f > 0): // also NaN
		return 0
	case f >= float64(ceiling):
		return ceiling
	}
	return time.Duration(f)
}

// ceiling returns min(MaxDelay, BaseDelay·2^(attempt-1)) without overflow.
func (p Policy) ceiling(attempt int) time.Duration {
	c := p.BaseDelay
	for i := 1; i < attempt && c < p.MaxDelay; i++ {
		if c > math.MaxInt64/2 {
			return p.MaxDelay
		}
		c *= 2
	}
	return min(c, p.MaxDelay)
}

// nextBeijingMidnight returns the first 00:00 Beijing time strictly after now.
func nextBeijingMidnight(now time.Time) time.Time {
	y, m, d := now.In(beijing.Time).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, beijing.Time).In(now.Location())
}

// nextMarketingStart returns the next 08:00 Beijing time: today's if now is
// before 08:00 Beijing, otherwise tomorrow's.
func nextMarketingStart(now time.Time) time.Time {
	b := now.In(beijing.Time)
	y, m, d := b.Date()
	t := time.Date(y, m, d, 8, 0, 0, 0, beijing.Time)
	if !b.Before(t) {
		t = time.Date(y, m, d+1, 8, 0, 0, 0, beijing.Time)
	}
	return t.In(now.Location())
}

// Decide returns what to do after attempt (1-based: the send that just
// failed; below 1 counts as 1) ended with o, for job j, at now.
func (p Policy) Decide(now time.Time, attempt int, o Outcome, j Job) Decision {
	p = p.withDefaults()
	attempt = max(attempt, 1)

	code, r := p.classify(o)
	d := p.decide(now, attempt, code, r, j)
	d.Code, d.Class = code, r.class
	switch {
	case o.Transport != TransportNone:
		d.Reason = "transport: " + d.Reason
	case o.PerNumber:
		d.Reason = "number: " + d.Reason
	default:
		d.Reason = "call: " + d.Reason
	}
	return expire(now, d, j)
}

// classify resolves the outcome to a canonical code and its rule.
func (p Policy) classify(o Outcome) (string, rule) {
	code := strings.TrimSpace(o.Code)
	switch o.Transport {
	case TransportNone:
		if code == "" {
			return CodeOK, table[CodeOK]
		}
		return lookup(code)
	case TransportNotSent:
		if code == "" {
			code = CodeTransportNotSent
		}
		return code, rule{ClassTransient, waitNone}
	default:
		if code == "" {
			code = CodeTransportUnknown
		}
		return code, rule{ClassUnknownOutcome, waitNone}
	}
}

func (p Policy) decide(now time.Time, attempt int, code string, r rule, j Job) Decision {
	switch r.class {
	case ClassOK:
		return Decision{Action: Done, Reason: "accepted"}
	case ClassTransient:
		return p.retryCall(now, attempt, p.MaxTransientRetries, "not accepted (throttled or not sent)")
	case ClassClock:
		return p.retryCall(now, attempt, p.MaxRetries, "refused for clock skew: check NTP")
	case ClassUnknownOutcome:
		return Decision{Action: Reconcile, Reason: "outcome unknown: reconcile before any resend"}
	case ClassNumberRetryAfter:
		return p.retryNumber(now, attempt, r.wait, j)
	case ClassNumberPermanent:
		return Decision{Action: FailNumber, Reason: "number refused permanently"}
	case ClassRequestShape:
		return Decision{Action: FailNumber, Reason: "malformed request (our bug): not retried"}
	case ClassJobPermanent:
		return Decision{Action: FailJob, Reason: "template, signature, content or app refused"}
	case ClassAppHalt:
		return at(HaltApp, now, now.Add(p.HaltProbe), "app unusable (credentials, balance or app settings): halt and probe")
	case ClassAppDeferred:
		if r.wait == waitMarketing {
			return at(DeferUntil, now, nextMarketingStart(now), "marketing SMS only 08:00-22:00 Beijing time")
		}
		return at(DeferUntil, now, nextBeijingMidnight(now), "app daily cap reached: resume at 00:00 Beijing time")
	default: // ClassUnlisted
		return p.retryCall(now, attempt, p.MaxRetries, "unlisted code")
	}
}

func (p Policy) retryCall(now time.Time, attempt, limit int, reason string) Decision {
	if attempt > limit {
		return Decision{Action: FailNumber, Reason: fmt.Sprintf("%s; gave up after %d attempts", reason, attempt)}
	}
	return at(RetryCall, now, now.Add(p.Backoff(attempt)), reason)
}

func (p Policy) retryNumber(now time.Time, attempt int, w wait, j Job) Decision {
	if attempt > p.MaxTransientRetries {
		return Decision{Action: FailNumber, Reason: fmt.Sprintf("per-number limit; gave up after %d attempts", attempt)}
	}
	switch w {
	case waitThirtySecond:
		return at(RetryNumberAt, now, now.Add(p.ThirtySecondDelay), "per-number 30-second limit")
	case waitOneHour:
		return at(RetryNumberAt, now, now.Add(p.OneHourDelay), "per-number one-hour limit")
	case waitNumberDaily:
		if !j.DeferDailyLimit {
			return Decision{Action: FailNumber, Reason: "per-number daily limit; job does not defer daily limits"}
		}
		return at(RetryNumberAt, now, nextBeijingMidnight(now), "per-number daily limit: retry at 00:00 Beijing time")
	default: // waitFrequency
		return at(RetryNumberAt, now, now.Add(p.FrequencyDelay), "per-number frequency limit")
	}
}

func at(a Action, now, t time.Time, reason string) Decision {
	return Decision{Action: a, Delay: max(t.Sub(now), 0), At: t, Reason: reason}
}

// expire applies an otp job's expiry to d.
func expire(now time.Time, d Decision, j Job) Decision {
	if !j.expires() {
		return d
	}
	switch d.Action {
	case Done, FailNumber, FailJob:
		return d
	}
	switch {
	case !now.Before(j.ExpiresAt):
		d.Reason = "otp expired at " + j.ExpiresAt.UTC().Format(time.RFC3339) + " (" + d.Reason + ")"
	case d.Action != Reconcile && !d.At.Before(j.ExpiresAt):
		d.Reason = "otp expires at " + j.ExpiresAt.UTC().Format(time.RFC3339) + " before " + d.Action.String() + " (" + d.Reason + ")"
	default:
		return d
	}
	d.Action, d.Delay, d.At, d.Expired = FailNumber, 0, time.Time{}, true
	return d
}
