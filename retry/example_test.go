package retry_test

import (
	"fmt"
	"time"

	"github.com/smsdispatch/smsdispatch/retry"
)

func Example() {
	p := retry.DefaultPolicy()
	p.Rand = func() float64 { return 0.5 }              // fixed jitter, for a stable output
	now := time.Date(2026, 3, 10, 4, 0, 0, 0, time.UTC) // 12:00 Beijing time
	job := retry.Job{Priority: retry.PriorityNormal}

	for _, o := range []retry.Outcome{
		{Code: retry.CodeOK, PerNumber: true},
		{Code: "RequestLimitExceeded"},
		{Transport: retry.TransportNotSent},
		{Transport: retry.TransportUnknown},
		{Code: "InternalError.Timeout", PerNumber: true},
		{Code: "LimitExceeded.PhoneNumberThirtySecondLimit", PerNumber: true},
		{Code: "LimitExceeded.PhoneNumberDailyLimit", PerNumber: true},
		{Code: "InvalidParameterValue.IncorrectPhoneNumber", PerNumber: true},
		{Code: "FailedOperation.TemplateIncorrectOrUnapproved"},
		{Code: "AuthFailure.SecretIdNotFound"},
		{Code: "LimitExceeded.AppDailyLimit"},
		{Code: "FailedOperation.MarketingSendTimeConstraint"},
	} {
		d := p.Decide(now, 1, o, job)
		fmt.Printf("%-46s %-19s %-16s %v\n", d.Code, d.Class, d.Action, d.Delay)
	}
	// Output:
	// Ok                                             ok                  done             0s
	// RequestLimitExceeded                           transient           retry-call       500ms
	// Transport.NotSent                              transient           retry-call       500ms
	// Transport.Unknown                              unknown-outcome     reconcile        0s
	// InternalError.Timeout                          unknown-outcome     reconcile        0s
	// LimitExceeded.PhoneNumberThirtySecondLimit     number-retry-after  retry-number-at  35s
	// LimitExceeded.PhoneNumberDailyLimit            number-retry-after  fail-number      0s
	// InvalidParameterValue.IncorrectPhoneNumber     number-permanent    fail-number      0s
	// FailedOperation.TemplateIncorrectOrUnapproved  job-permanent       fail-job         0s
	// AuthFailure.SecretIdNotFound                   app-halt            halt-app         5m0s
	// LimitExceeded.AppDailyLimit                    app-deferred        defer-until      12h0m0s
	// FailedOperation.MarketingSendTimeConstraint    app-deferred        defer-until      20h0m0s
}

// An otp job never schedules a number at or after its expiry.
func ExamplePolicy_Decide_otp() {
	p := retry.DefaultPolicy()
	now := time.Date(2026, 3, 10, 4, 0, 0, 0, time.UTC)
	otp := retry.Job{Priority: retry.PriorityOTP, ExpiresAt: now.Add(5 * time.Minute)}

	limited := retry.Outcome{Code: "LimitExceeded.PhoneNumberThirtySecondLimit", PerNumber: true}
	d := p.Decide(now, 1, limited, otp)
	fmt.Println(d.Action, d.At.Format(time.TimeOnly), d.Expired)

	limited.Code = "LimitExceeded.PhoneNumberOneHourLimit"
	d = p.Decide(now, 1, limited, otp)
	fmt.Println(d.Action, d.Code, d.Expired)
	// Output:
	// retry-number-at 04:00:35 false
	// fail-number LimitExceeded.PhoneNumberOneHourLimit true
}

func ExamplePolicy_Backoff() {
	p := retry.Policy{BaseDelay: time.Second, MaxDelay: time.Minute}
	p.Rand = func() float64 { return 0.999999999999 } // the top of each jitter range
	for attempt := 1; attempt <= 8; attempt++ {
		fmt.Print(p.Backoff(attempt).Round(time.Second), " ")
	}
	fmt.Println()
	// Output:
	// 1s 2s 4s 8s 16s 32s 1m0s 1m0s
}

func ExampleClassify() {
	for _, code := range []string{
		"LimitExceeded.PhoneNumberOneHourLimit",
		"UnauthorizedOperation.SerivceSuspendDueToArrears",
		"AuthFailure.SignatureExpire",
		"SomeFutureError.Unlisted",
	} {
		fmt.Println(retry.Classify(code))
	}
	// Output:
	// number-retry-after
	// app-halt
	// clock
	// unlisted
}
