package main

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/smsdispatch/smsdispatch/sandbox"
)

// recorder wraps the sandbox's handler: it notes the arrival time of every SendSms call and,
// for bodies holding an OTP number (one substring check), the first arrival of each OTP number.
// It reads the body once and hands the sandbox an identical copy, so the sandbox sees the exact
// request the client signed.
type recorder struct {
	h http.Handler

	mu    sync.Mutex
	calls []time.Time          // SendSms arrivals
	otp   map[string]time.Time // OTP number -> first SendSms arrival carrying it
}

func newRecorder(h http.Handler) *recorder {
	return &recorder{h: h, otp: make(map[string]time.Time)}
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	if r.Header.Get("X-TC-Action") == "SendSms" && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, sandbox.MaxBodyBytes+1))
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err == nil {
			rc.note(at, body)
		}
	}
	rc.h.ServeHTTP(w, r)
}

func (rc *recorder) note(at time.Time, body []byte) {
	var otps []string
	if bytes.Contains(body, []byte(otpMarker)) {
		otps = numbersWithPrefix(body, otpMarker)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls = append(rc.calls, at)
	for _, n := range otps {
		if _, ok := rc.otp[n]; !ok {
			rc.otp[n] = at
		}
	}
}

// callsSince returns the SendSms arrivals at or after t, in order.
func (rc *recorder) callsSince(t time.Time) []time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	// Arrivals are appended under the lock with times taken before it, so they may be out of
	// order by a hair: filter, then sort the copy.
	var out []time.Time
	for _, c := range rc.calls {
		if !c.Before(t) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// firstCallSince returns the first SendSms arrival at or after t.
func (rc *recorder) firstCallSince(t time.Time) (time.Time, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, c := range rc.calls {
		if !c.Before(t) {
			return c, true
		}
	}
	return time.Time{}, false
}

// otpArrival returns when the first SendSms carrying number arrived.
func (rc *recorder) otpArrival(number string) (time.Time, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	t, ok := rc.otp[number]
	return t, ok
}
