// Package retry decides what to do with each outcome of a Tencent Cloud SMS
// SendSms call (API 2021-01-11). It is a pure policy: it takes an outcome, the
// attempt number, the current time and a few facts about the job, and returns
// one [Decision]. It sends nothing, sleeps nothing, keeps no state and imports
// only the standard library; the dispatcher carries the decision out.
//
// # Outcomes
//
// Tencent reports errors in two layers that share one code list: a call-level
// Response.Error.Code (the whole request failed) and a per-number
// SendStatusSet[i].Code. An [Outcome] carries one such code, or a transport
// failure in which no answer arrived at all ([TransportNotSent] when the
// request was certainly not written, [TransportUnknown] otherwise). A
// call-level outcome covers every number of the call; a per-number outcome
// covers one number. The action does not depend on the layer: the same code
// means the same thing in both.
//
// # Classes and actions
//
// [Classify] maps a code to a [Class]; [Policy.Decide] turns the class into an
// [Action]:
//
//	class               action
//	ok                  Done
//	transient           RetryCall after Backoff, at most MaxTransientRetries, then FailNumber
//	clock               RetryCall after Backoff, at most MaxRetries, then FailNumber
//	unlisted            RetryCall after Backoff, at most MaxRetries, then FailNumber
//	unknown-outcome     Reconcile (query the send records before any resend)
//	number-retry-after  RetryNumberAt a time the code implies (daily limits: FailNumber
//	                    unless Job.DeferDailyLimit), at most MaxTransientRetries
//	number-permanent    FailNumber
//	request-shape       FailNumber (our bug: it settles the numbers rather than retrying)
//	job-permanent       FailJob
//	app-halt            HaltApp, probe again at now+HaltProbe
//	app-deferred        DeferUntil the next 00:00 Beijing time (daily caps) or the next
//	                    08:00 Beijing time (marketing send window)
//
// A code the table does not know is "unlisted": it is retried a few times and
// then fails the numbers. It never halts the app and never waits forever.
// Codes are matched exactly first, then ignoring case and surrounding space,
// then by a few documented prefixes (for example any other "AuthFailure.*"
// halts the app and any other "InternalError.*" is an unknown outcome).
//
// # OTP expiry
//
// An otp job's codes expire. For a [Job] with Priority "otp" and a non-zero
// ExpiresAt, every decision that would act on the numbers at or after
// ExpiresAt (RetryCall, RetryNumberAt, DeferUntil, HaltApp) becomes
// FailNumber with Decision.Expired set, and once the job has expired every
// outcome other than success fails (FailJob stays FailJob). Decision.Class
// still names the class of the code, so a halting code seen by an expired
// OTP can still raise an alert, and an expired OTP whose outcome was unknown
// (Class unknown-outcome) can be recorded as possibly delivered.
//
// # Attempts and time
//
// The attempt argument of Decide is the 1-based number of the send that just
// failed for the numbers the outcome covers: 1 after the first send, 2 after
// the first resend, and so on. With MaxRetries = 5, attempts 1 to 5 are
// retried and attempt 6 fails. asynq's RetryDelayFunc receives the retry
// count before it is incremented (0 on the first failure): pass n+1.
//
// Times of day are computed in Beijing time (UTC+8, a fixed zone, so no
// tzdata is needed), the clock Tencent's daily limits and marketing window
// follow. Backoff uses full jitter from Policy.Rand, so decisions are
// deterministic when Rand is injected.
package retry
