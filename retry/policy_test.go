package retry

import (
	"math"
	"strings"
	"testing"
	"time"
)

// checkInvariants holds for every decision.
func checkInvariants(t *testing.T, now time.Time, o Outcome, d Decision) {
	t.Helper()
	if d.Action < Done || d.Action > DeferUntil {
		t.Errorf("Decide(%+v): invalid action %v", o, d.Action)
	}
	if d.Class < ClassOK || d.Class > ClassUnlisted {
		t.Errorf("Decide(%+v): invalid class %v", o, d.Class)
	}
	if d.Code == "" || d.Reason == "" {
		t.Errorf("Decide(%+v) = %+v: empty code or reason", o, d)
	}
	switch d.Action {
	case RetryCall, RetryNumberAt, HaltApp, DeferUntil:
		if d.At.IsZero() || d.Delay < 0 || !d.At.Equal(now.Add(d.Delay)) {
			t.Errorf("Decide(%+v) = %+v: At must be now+Delay, Delay >= 0", o, d)
		}
	default:
		if !d.At.IsZero() || d.Delay != 0 {
			t.Errorf("Decide(%+v) = %+v: At and Delay must be zero for %v", o, d, d.Action)
		}
	}
	if d.Action == HaltApp && d.Class != ClassAppHalt {
		t.Errorf("Decide(%+v) = %+v: halts the app for class %v", o, d, d.Class)
	}
	if d.Action == Done && d.Class != ClassOK {
		t.Errorf("Decide(%+v) = %+v: done for class %v", o, d, d.Class)
	}
	if d.Expired && d.Action != FailNumber {
		t.Errorf("Decide(%+v) = %+v: expired but not failed", o, d)
	}
}

func TestDecideWaits(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	p.Rand = fixedRand(0)
	p.FrequencyDelay = 7 * time.Minute
	p.HaltProbe = 3 * time.Minute
	defer_ := Job{Priority: PriorityBulk, DeferDailyLimit: true}
	tests := []struct {
		name   string
		code   string
		job    Job
		action Action
		at     time.Time
	}{
		{"thirty seconds", "LimitExceeded.PhoneNumberThirtySecondLimit", Job{}, RetryNumberAt, now0.Add(35 * time.Second)},
		{"one hour", "LimitExceeded.PhoneNumberOneHourLimit", Job{}, RetryNumberAt, now0.Add(time.Hour)},
		{"frequency", "LimitExceeded.DeliveryFrequencyLimit", Job{}, RetryNumberAt, now0.Add(7 * time.Minute)},
		{"daily fails", "LimitExceeded.PhoneNumberDailyLimit", Job{}, FailNumber, time.Time{}},
		{"same content daily fails", "LimitExceeded.PhoneNumberSameContentDailyLimit", Job{}, FailNumber, time.Time{}},
		{"daily deferred", "LimitExceeded.PhoneNumberDailyLimit", defer_, RetryNumberAt, time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC)},
		{"same content daily deferred", "LimitExceeded.PhoneNumberSameContentDailyLimit", defer_, RetryNumberAt, time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC)},
		{"halt probe", "FailedOperation.InsufficientBalanceInSmsPackage", Job{}, HaltApp, now0.Add(3 * time.Minute)},
		{"app daily cap", "LimitExceeded.AppDailyLimit", Job{}, DeferUntil, time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC)},
		{"marketing window", "FailedOperation.MarketingSendTimeConstraint", Job{}, DeferUntil, time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)},
		{"throttled, rand 0", "RequestLimitExceeded", Job{}, RetryCall, now0},
	}
	for _, tc := range tests {
		for _, perNumber := range []bool{false, true} {
			o := Outcome{Code: tc.code, PerNumber: perNumber}
			d := p.Decide(now0, 1, o, tc.job)
			if d.Action != tc.action || !d.At.Equal(tc.at) {
				t.Errorf("%s: Decide(%+v) = %v at %v, want %v at %v", tc.name, o, d.Action, d.At, tc.action, tc.at)
			}
			checkInvariants(t, now0, o, d)
		}
	}
}

func TestNextBeijingMidnight(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct{ now, want string }{
		{"2026-03-10T04:00:00Z", "2026-03-10T16:00:00Z"},           // 12:00 Beijing
		{"2026-03-10T15:59:59.999999999Z", "2026-03-10T16:00:00Z"}, // 23:59:59.999 Beijing
		{"2026-03-10T16:00:00Z", "2026-03-11T16:00:00Z"},           // exactly 00:00 Beijing: the next one
		{"2026-03-10T16:00:00.000000001Z", "2026-03-11T16:00:00Z"},
		{"2026-03-10T23:59:59Z", "2026-03-11T16:00:00Z"}, // UTC still the 10th, Beijing the 11th
		{"2026-03-11T00:00:00Z", "2026-03-11T16:00:00Z"}, // UTC midnight = 08:00 Beijing
		{"2026-03-10T00:00:00Z", "2026-03-10T16:00:00Z"},
		{"2026-12-31T15:00:00Z", "2026-12-31T16:00:00Z"}, // 23:00 Beijing, New Year's Eve
		{"2026-12-31T16:30:00Z", "2027-01-01T16:00:00Z"}, // 00:30 Beijing, 1 January
		{"2028-02-28T17:00:00Z", "2028-02-29T16:00:00Z"}, // leap day
		{"2027-02-28T17:00:00Z", "2027-03-01T16:00:00Z"},
		{"2026-03-10T18:00:00+08:00", "2026-03-10T16:00:00Z"}, // now given in Beijing time
		{"2026-03-10T20:00:00-07:00", "2026-03-11T16:00:00Z"}, // 11 Mar 11:00 Beijing
	}
	p := DefaultPolicy()
	for _, tc := range tests {
		now, want := utc(tc.now), utc(tc.want)
		if got := nextBeijingMidnight(now); !got.Equal(want) || got.Location() != now.Location() {
			t.Errorf("nextBeijingMidnight(%s) = %s, want %s in now's location", tc.now, got, want)
		}
		for _, c := range []string{"LimitExceeded.AppDailyLimit", "LimitExceeded.DailyLimit", "LimitExceeded.AppGlobalDailyLimit"} {
			if d := p.Decide(now, 1, Outcome{Code: c}, Job{}); d.Action != DeferUntil || !d.At.Equal(want) {
				t.Errorf("Decide(%s, %s) = %v at %s, want defer-until %s", tc.now, c, d.Action, d.At, want)
			}
		}
		o := Outcome{Code: "LimitExceeded.PhoneNumberDailyLimit", PerNumber: true}
		if d := p.Decide(now, 1, o, Job{DeferDailyLimit: true}); d.Action != RetryNumberAt || !d.At.Equal(want) {
			t.Errorf("Decide(%s, daily, defer) = %v at %s, want retry-number-at %s", tc.now, d.Action, d.At, want)
		}
	}
}

func TestNextMarketingStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		now, want time.Time
	}{
		{"00:00 Beijing", time.Date(2026, 3, 10, 16, 0, 0, 0, time.UTC), time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)},
		{"07:59:59 Beijing", time.Date(2026, 3, 10, 23, 59, 59, 0, time.UTC), time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)},
		{"07:59:59.999999999 Beijing", time.Date(2026, 3, 10, 23, 59, 59, 999999999, time.UTC), time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC)},
		{"08:00 Beijing", time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)},
		{"12:00 Beijing", time.Date(2026, 3, 11, 4, 0, 0, 0, time.UTC), time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)},
		{"21:59:59 Beijing", time.Date(2026, 3, 11, 13, 59, 59, 0, time.UTC), time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)},
		{"22:00:01 Beijing", time.Date(2026, 3, 11, 14, 0, 1, 0, time.UTC), time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)},
		{"23:59:59 Beijing", time.Date(2026, 3, 11, 15, 59, 59, 0, time.UTC), time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)},
		{"23:00 Beijing on 31 Dec", time.Date(2026, 12, 31, 15, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"01:00 Beijing on 1 Jan", time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	p := DefaultPolicy()
	for _, tc := range tests {
		if got := nextMarketingStart(tc.now); !got.Equal(tc.want) {
			t.Errorf("%s: nextMarketingStart(%s) = %s, want %s", tc.name, tc.now, got, tc.want)
		}
		o := Outcome{Code: "FailedOperation.MarketingSendTimeConstraint"}
		d := p.Decide(tc.now, 1, o, Job{Priority: PriorityBulk})
		if d.Action != DeferUntil || !d.At.Equal(tc.want) || d.Delay != tc.want.Sub(tc.now) {
			t.Errorf("%s: Decide = %+v, want defer-until %s", tc.name, d, tc.want)
		}
	}
}

func TestOTPExpiry(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	p.Rand = fixedRand(math.Nextafter(1, 0)) // backoff at its ceiling
	p.HaltProbe = 5 * time.Minute
	otp := func(d time.Duration) Job { return Job{Priority: PriorityOTP, ExpiresAt: now0.Add(d)} }
	tests := []struct {
		name    string
		o       Outcome
		attempt int
		job     Job
		action  Action
		expired bool
	}{
		{"30 s limit within expiry", Outcome{Code: "LimitExceeded.PhoneNumberThirtySecondLimit", PerNumber: true}, 1, otp(10 * time.Minute), RetryNumberAt, false},
		{"30 s limit past expiry", Outcome{Code: "LimitExceeded.PhoneNumberThirtySecondLimit", PerNumber: true}, 1, otp(20 * time.Second), FailNumber, true},
		{"retry time equal to expiry", Outcome{Code: "LimitExceeded.PhoneNumberThirtySecondLimit"}, 1, otp(35 * time.Second), FailNumber, true},
		{"retry time 1 ns before expiry", Outcome{Code: "LimitExceeded.PhoneNumberThirtySecondLimit"}, 1, otp(35*time.Second + 1), RetryNumberAt, false},
		{"one hour limit", Outcome{Code: "LimitExceeded.PhoneNumberOneHourLimit", PerNumber: true}, 1, otp(10 * time.Minute), FailNumber, true},
		{"frequency limit", Outcome{Code: "LimitExceeded.DeliveryFrequencyLimit", PerNumber: true}, 1, otp(10 * time.Minute), FailNumber, true},
		{"daily limit deferred past expiry", Outcome{Code: "LimitExceeded.PhoneNumberDailyLimit", PerNumber: true}, 1, Job{Priority: PriorityOTP, ExpiresAt: now0.Add(time.Hour), DeferDailyLimit: true}, FailNumber, true},
		{"daily limit not deferred", Outcome{Code: "LimitExceeded.PhoneNumberDailyLimit", PerNumber: true}, 1, otp(time.Hour), FailNumber, false},
		{"backoff within expiry", Outcome{Code: "RequestLimitExceeded"}, 3, otp(10 * time.Second), RetryCall, false}, // 4 s
		{"backoff past expiry", Outcome{Code: "RequestLimitExceeded"}, 3, otp(3 * time.Second), FailNumber, true},
		{"backoff equal to expiry", Outcome{Code: "RequestLimitExceeded"}, 3, otp(4 * time.Second), FailNumber, true},
		{"transport not sent past expiry", Outcome{Transport: TransportNotSent}, 5, otp(10 * time.Second), FailNumber, true}, // 16 s
		{"unlisted code past expiry", Outcome{Code: "Foo.Bar"}, 2, otp(time.Second), FailNumber, true},
		{"clock past expiry", Outcome{Code: "AuthFailure.SignatureExpire"}, 2, otp(time.Second), FailNumber, true},
		{"app daily cap", Outcome{Code: "LimitExceeded.AppDailyLimit"}, 1, otp(10 * time.Minute), FailNumber, true},
		{"marketing window", Outcome{Code: "FailedOperation.MarketingSendTimeConstraint"}, 1, otp(10 * time.Minute), FailNumber, true},
		{"halt probe before expiry", Outcome{Code: "AuthFailure.SecretIdNotFound"}, 1, otp(10 * time.Minute), HaltApp, false},
		{"halt probe past expiry", Outcome{Code: "AuthFailure.SecretIdNotFound"}, 1, otp(time.Minute), FailNumber, true},
		{"unknown outcome before expiry", Outcome{Code: "InternalError.Timeout"}, 1, otp(time.Minute), Reconcile, false},
		{"transport unknown before expiry", Outcome{Transport: TransportUnknown}, 1, otp(time.Minute), Reconcile, false},
		{"unknown outcome after expiry", Outcome{Code: "InternalError.Timeout"}, 1, otp(-time.Second), FailNumber, true},
		{"unknown outcome at expiry", Outcome{Transport: TransportUnknown}, 1, otp(0), FailNumber, true},
		{"job permanent stays", Outcome{Code: "FailedOperation.TemplateIncorrectOrUnapproved"}, 1, otp(-time.Minute), FailJob, false},
		{"number permanent stays", Outcome{Code: "InvalidParameterValue.IncorrectPhoneNumber", PerNumber: true}, 1, otp(-time.Minute), FailNumber, false},
		{"success after expiry", Outcome{Code: CodeOK, PerNumber: true}, 1, otp(-time.Minute), Done, false},
		{"no expiry set", Outcome{Code: "LimitExceeded.PhoneNumberOneHourLimit"}, 1, Job{Priority: PriorityOTP}, RetryNumberAt, false},
		{"expiry ignored for normal", Outcome{Code: "LimitExceeded.PhoneNumberOneHourLimit"}, 1, Job{Priority: PriorityNormal, ExpiresAt: now0.Add(-time.Hour)}, RetryNumberAt, false},
		{"expiry ignored for bulk", Outcome{Code: "LimitExceeded.AppDailyLimit"}, 1, Job{Priority: PriorityBulk, ExpiresAt: now0}, DeferUntil, false},
	}
	for _, tc := range tests {
		d := p.Decide(now0, tc.attempt, tc.o, tc.job)
		if d.Action != tc.action || d.Expired != tc.expired {
			t.Errorf("%s: Decide = %+v, want %v expired=%v", tc.name, d, tc.action, tc.expired)
		}
		if tc.expired && !strings.Contains(d.Reason, "otp expire") {
			t.Errorf("%s: reason %q does not say the otp expired", tc.name, d.Reason)
		}
		if tc.expired && d.Class != Classify(tc.o.Code) && tc.o.Transport == TransportNone {
			t.Errorf("%s: class %v, want the code's class %v", tc.name, d.Class, Classify(tc.o.Code))
		}
		checkInvariants(t, now0, tc.o, d)
	}
}

// TestOTPAlreadyExpiredFailsEverything: once an otp job has expired, every
// outcome but success fails, whatever the code, layer, attempt or transport.
func TestOTPAlreadyExpiredFailsEverything(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	p.Rand = fixedRand(0) // even a zero delay must not resend
	for _, expiresAt := range []time.Time{now0, now0.Add(-time.Nanosecond), now0.Add(-24 * time.Hour)} {
		job := Job{Priority: PriorityOTP, ExpiresAt: expiresAt, DeferDailyLimit: true}
		if !job.Expired(now0) {
			t.Errorf("Job{ExpiresAt: %s}.Expired(%s) = false", expiresAt, now0)
		}
		for _, tc := range allCodes {
			for _, tr := range []Transport{TransportNone, TransportNotSent, TransportUnknown} {
				for _, perNumber := range []bool{false, true} {
					o := Outcome{Code: tc.code, Transport: tr, PerNumber: perNumber}
					d := p.Decide(now0, 1, o, job)
					switch {
					case tr == TransportNone && tc.action == Done:
						if d.Action != Done {
							t.Errorf("Decide(%+v) = %+v, want done", o, d)
						}
					case tr == TransportNone && tc.action == FailJob:
						if d.Action != FailJob {
							t.Errorf("Decide(%+v) = %+v, want fail-job", o, d)
						}
					default:
						if d.Action != FailNumber {
							t.Errorf("Decide(%+v) = %+v, want fail-number", o, d)
						}
					}
					checkInvariants(t, now0, o, d)
				}
			}
		}
	}
	if (Job{Priority: PriorityOTP, ExpiresAt: now0.Add(time.Nanosecond)}).Expired(now0) {
		t.Error("a job expiring in 1 ns is reported expired")
	}
	if (Job{Priority: PriorityNormal, ExpiresAt: now0.Add(-time.Hour)}).Expired(now0) {
		t.Error("a normal job is reported expired")
	}
	if (Job{Priority: PriorityOTP}).Expired(now0) {
		t.Error("an otp job without ExpiresAt is reported expired")
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	p := Policy{BaseDelay: time.Second, MaxDelay: 5 * time.Minute}
	tests := []struct {
		attempt int
		ceiling time.Duration
	}{
		{math.MinInt, time.Second},
		{-1, time.Second},
		{0, time.Second},
		{1, time.Second},
		{2, 2 * time.Second},
		{3, 4 * time.Second},
		{4, 8 * time.Second},
		{5, 16 * time.Second},
		{6, 32 * time.Second},
		{7, 64 * time.Second},
		{8, 128 * time.Second},
		{9, 256 * time.Second},
		{10, 5 * time.Minute}, // 512 s capped
		{11, 5 * time.Minute},
		{64, 5 * time.Minute},
		{math.MaxInt, 5 * time.Minute},
	}
	top := math.Nextafter(1, 0)
	for _, tc := range tests {
		for _, r := range []struct {
			f    float64
			want time.Duration
		}{
			{0, 0},
			{top, tc.ceiling},
			{0.5, (tc.ceiling + 1) / 2},
			{1, tc.ceiling},           // out of contract: clamped
			{2, tc.ceiling},           // out of contract: clamped
			{-1, 0},                   // out of contract: clamped
			{math.NaN(), 0},           // out of contract: clamped
			{math.Inf(1), tc.ceiling}, // out of contract: clamped
		} {
			p.Rand = fixedRand(r.f)
			if got := p.Backoff(tc.attempt); got != r.want {
				t.Errorf("Backoff(%d) with rand %v = %v, want %v", tc.attempt, r.f, got, r.want)
			}
		}
		if got := p.ceiling(max(tc.attempt, 1)); got != tc.ceiling {
			t.Errorf("ceiling(%d) = %v, want %v", tc.attempt, got, tc.ceiling)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	for _, p := range []Policy{
		{},
		DefaultPolicy(),
		{BaseDelay: time.Millisecond, MaxDelay: time.Hour},
		{BaseDelay: time.Hour, MaxDelay: time.Second}, // Max below Base: Max wins
		{BaseDelay: 1 << 62, MaxDelay: math.MaxInt64}, // overflow guard
		{BaseDelay: 3, MaxDelay: math.MaxInt64},
	} {
		q := p.withDefaults()
		for attempt := -2; attempt <= 200; attempt++ {
			c := q.ceiling(max(attempt, 1))
			if c <= 0 || c > q.MaxDelay {
				t.Fatalf("%+v: ceiling(%d) = %v out of (0, %v]", p, attempt, c, q.MaxDelay)
			}
			if attempt > 1 && c < q.ceiling(attempt-1) {
				t.Fatalf("%+v: ceiling(%d) = %v shrinks", p, attempt, c)
			}
			for range 20 {
				if d := p.Backoff(attempt); d < 0 || d > c {
					t.Fatalf("%+v: Backoff(%d) = %v out of [0, %v]", p, attempt, d, c)
				}
			}
		}
	}
}

// TestBoundedRetries: unlisted and clock codes retry MaxRetries times,
// throttling and per-number limits MaxTransientRetries times, then fail the
// numbers with the code. None of them ever halts or waits forever.
func TestBoundedRetries(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	p.MaxRetries = 4
	p.MaxTransientRetries = 7
	p.Rand = fixedRand(0.25)
	tests := []struct {
		code  string
		tr    Transport
		limit int
		retry Action
	}{
		{"Foo.Bar", TransportNone, 4, RetryCall},
		{"LimitExceeded.SomethingNew", TransportNone, 4, RetryCall},
		{"UnauthorizedOperation.SomethingNew", TransportNone, 4, RetryCall},
		{"FailedOperation", TransportNone, 4, RetryCall},
		{"AuthFailure.SignatureExpire", TransportNone, 4, RetryCall},
		{"InternalError.RequestTimeException", TransportNone, 4, RetryCall},
		{"RequestLimitExceeded", TransportNone, 7, RetryCall},
		{"RequestLimitExceeded.IPLimitExceeded", TransportNone, 7, RetryCall},
		{"", TransportNotSent, 7, RetryCall},
		{"LimitExceeded.PhoneNumberThirtySecondLimit", TransportNone, 7, RetryNumberAt},
		{"LimitExceeded.PhoneNumberOneHourLimit", TransportNone, 7, RetryNumberAt},
		{"LimitExceeded.DeliveryFrequencyLimit", TransportNone, 7, RetryNumberAt},
		{"LimitExceeded.PhoneNumberDailyLimit", TransportNone, 7, RetryNumberAt}, // with DeferDailyLimit
	}
	job := Job{Priority: PriorityNormal, DeferDailyLimit: true}
	for _, tc := range tests {
		for _, perNumber := range []bool{false, true} {
			o := Outcome{Code: tc.code, Transport: tc.tr, PerNumber: perNumber}
			for attempt := 1; attempt <= tc.limit+3; attempt++ {
				d := p.Decide(now0, attempt, o, job)
				want := tc.retry
				if attempt > tc.limit {
					want = FailNumber
				}
				if d.Action != want {
					t.Errorf("Decide(attempt %d, %+v) = %+v, want %v", attempt, o, d, want)
				}
				if want == RetryCall && d.Delay != p.Backoff(attempt) {
					t.Errorf("Decide(attempt %d, %+v).Delay = %v, want Backoff = %v", attempt, o, d.Delay, p.Backoff(attempt))
				}
				if want == FailNumber && d.Code == "" {
					t.Errorf("Decide(attempt %d, %+v): fails without a code", attempt, o)
				}
				checkInvariants(t, now0, o, d)
			}
		}
	}

	// Negative limits: no retries at all.
	q := Policy{MaxRetries: -1, MaxTransientRetries: -1}
	for _, c := range []string{"Foo.Bar", "RequestLimitExceeded", "LimitExceeded.PhoneNumberThirtySecondLimit"} {
		if d := q.Decide(now0, 1, Outcome{Code: c}, Job{}); d.Action != FailNumber {
			t.Errorf("negative limits: Decide(%q) = %v, want fail-number", c, d.Action)
		}
	}
}

// TestUnlistedNeverHalts: a code the table does not know never halts the app,
// never defers it and never counts as success, at any attempt, for any job.
func TestUnlistedNeverHalts(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	codes := []string{"Foo.Bar", "LimitExceeded.SomethingNew", "UnauthorizedOperation.SomethingNew",
		"FailedOperation.SomethingNew", "UnsupportedOperation.SomethingNew", "ResourceUnavailable", "AuthFailureX", "1008"}
	jobs := []Job{{}, {Priority: PriorityBulk, DeferDailyLimit: true}, {Priority: PriorityOTP, ExpiresAt: now0.Add(time.Hour)}}
	for _, c := range codes {
		if Classify(c) != ClassUnlisted {
			t.Fatalf("Classify(%q) = %v, want unlisted", c, Classify(c))
		}
		for _, j := range jobs {
			for attempt := 0; attempt <= 50; attempt++ {
				for _, perNumber := range []bool{false, true} {
					o := Outcome{Code: c, PerNumber: perNumber}
					d := p.Decide(now0, attempt, o, j)
					if d.Action != RetryCall && d.Action != FailNumber {
						t.Errorf("Decide(attempt %d, %+v, %+v) = %v, want retry-call or fail-number", attempt, o, j, d.Action)
					}
					if attempt > DefaultMaxRetries && d.Action != FailNumber {
						t.Errorf("Decide(attempt %d, %+v) = %v after the bound", attempt, o, d.Action)
					}
					checkInvariants(t, now0, o, d)
				}
			}
		}
	}
}

func TestZeroPolicyUsesDefaults(t *testing.T) {
	t.Parallel()
	zero, def := Policy{Rand: fixedRand(0.7)}, DefaultPolicy()
	def.Rand = zero.Rand
	for _, tc := range allCodes {
		for attempt := 1; attempt <= DefaultMaxTransientRetries+1; attempt += 4 {
			o := Outcome{Code: tc.code}
			a, b := zero.Decide(now0, attempt, o, Job{DeferDailyLimit: true}), def.Decide(now0, attempt, o, Job{DeferDailyLimit: true})
			if a != b {
				t.Errorf("attempt %d %q: zero policy %+v, default %+v", attempt, tc.code, a, b)
			}
		}
	}
	if zero.Backoff(3) != def.Backoff(3) {
		t.Errorf("Backoff differs: %v vs %v", zero.Backoff(3), def.Backoff(3))
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	seq := func() []Decision {
		n := 0
		p := DefaultPolicy()
		p.Rand = func() float64 { n++; return float64(n%10) / 10 }
		var out []Decision
		for attempt := 1; attempt <= 10; attempt++ {
			out = append(out, p.Decide(now0, attempt, Outcome{Code: "RequestLimitExceeded"}, Job{}))
		}
		return out
	}
	a, b := seq(), seq()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("decision %d differs: %+v vs %+v", i, a[i], b[i])
		}
	}
}

// FuzzDecide checks the invariants for arbitrary codes, the outside input.
func FuzzDecide(f *testing.F) {
	for _, tc := range allCodes {
		f.Add(tc.code, 1, int8(0), false, int64(0), int64(600))
	}
	f.Add("", 0, int8(1), true, int64(-1), int64(0))
	f.Add(" ok ", math.MaxInt, int8(2), false, int64(1<<40), int64(-5))
	f.Add("AuthFailure.", -7, int8(9), true, int64(86399), int64(30))
	f.Fuzz(func(t *testing.T, code string, attempt int, transport int8, perNumber bool, offset, expiresIn int64) {
		now := now0.Add(time.Duration(offset%(1<<40)) * time.Millisecond)
		o := Outcome{Code: code, Transport: Transport(transport), PerNumber: perNumber}
		p := DefaultPolicy()
		p.Rand = fixedRand(0.5)
		for _, j := range []Job{{}, {Priority: PriorityOTP, ExpiresAt: now.Add(time.Duration(expiresIn) * time.Second)}, {DeferDailyLimit: true}} {
			d := p.Decide(now, attempt, o, j)
			checkInvariants(t, now, o, d)
			if o.Transport == TransportNone && d.Class != Classify(code) {
				t.Errorf("Decide(%+v).Class = %v, Classify = %v", o, d.Class, Classify(code))
			}
			if d.Class == ClassUnlisted && (d.Action != RetryCall && d.Action != FailNumber) {
				t.Errorf("unlisted %q: %v", code, d.Action)
			}
			if j.Expired(now) && d.Action != Done && d.Action != FailJob && d.Action != FailNumber {
				t.Errorf("expired otp: %+v", d)
			}
			if j.expires() && !d.At.IsZero() && !d.At.Before(j.ExpiresAt) {
				t.Errorf("otp scheduled at %v, expires %v", d.At, j.ExpiresAt)
			}
		}
	})
}

func BenchmarkDecide(b *testing.B) {
	p := DefaultPolicy()
	p.Rand = fixedRand(0.5)
	j := Job{Priority: PriorityOTP, ExpiresAt: now0.Add(5 * time.Minute)}
	outcomes := []Outcome{
		{Code: CodeOK, PerNumber: true},
		{Code: "LimitExceeded.PhoneNumberThirtySecondLimit", PerNumber: true},
		{Code: "RequestLimitExceeded"},
		{Code: "internalerror.timeout"},
		{Code: "Foo.Bar"},
	}
	for i := 0; b.Loop(); i++ {
		p.Decide(now0, 2, outcomes[i%len(outcomes)], j)
	}
}
