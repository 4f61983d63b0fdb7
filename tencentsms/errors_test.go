package tencentsms_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/tencentsms"
)

// wantTransport checks that err is a *TransportError with the given outcome
// and status, and returns it.
func wantTransport(t *testing.T, err error, sent bool, status int) *tencentsms.TransportError {
	t.Helper()
	noSecret(t, err)
	t.Logf("error: %v", err)
	var te *tencentsms.TransportError
	if !errors.As(err, &te) {
		t.Fatalf("error %v (%T) is not a *TransportError", err, err)
	}
	if te.Sent != sent || te.StatusCode != status {
		t.Errorf("TransportError{Sent: %t, StatusCode: %d}, want {%t, %d}: %v", te.Sent, te.StatusCode, sent, status, err)
	}
	if errors.Is(err, tencentsms.ErrOutcomeUnknown) != sent || errors.Is(err, tencentsms.ErrNotSent) == sent {
		t.Errorf("errors.Is: ErrOutcomeUnknown %t, ErrNotSent %t, want sent=%t: %v",
			errors.Is(err, tencentsms.ErrOutcomeUnknown), errors.Is(err, tencentsms.ErrNotSent), sent, err)
	}
	var apiErr *tencentsms.Error
	if errors.As(err, &apiErr) {
		t.Errorf("transport failure also matches *Error: %v", err)
	}
	return te
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		code   string
	}{
		{"whole request refused", http.StatusOK, "FailedOperation.InsufficientBalanceInSmsPackage"},
		{"rate limited, not retried by the SDK", http.StatusOK, "RequestLimitExceeded"},
		{"internal error on HTTP 500", http.StatusInternalServerError, "InternalError.Timeout"},
		{"auth failure", http.StatusOK, "AuthFailure.SignatureFailure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(c call) reply {
				return apiError(tt.status, tt.code, "the message", "req-err-1")
			})
			c := newClient(t, f.url())
			res, err := c.SendSms(context.Background(), sendReq("+8613800000000"))
			if res != nil {
				t.Errorf("result %+v with error", res)
			}
			noSecret(t, err)
			var apiErr *tencentsms.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v (%T) is not a *Error", err, err)
			}
			want := tencentsms.Error{Action: "SendSms", Code: tt.code, Message: "the message", RequestID: "req-err-1", HTTPStatus: tt.status}
			if *apiErr != want {
				t.Errorf("got %+v, want %+v", *apiErr, want)
			}
			if !apiErr.IsCode("x", tt.code) || apiErr.IsCode("Ok") {
				t.Errorf("IsCode wrong for %q", apiErr.Code)
			}
			if errors.Is(err, tencentsms.ErrNotSent) || errors.Is(err, tencentsms.ErrOutcomeUnknown) {
				t.Errorf("API error matches a transport sentinel: %v", err)
			}
			if n := f.requests.Load(); n != 1 {
				t.Errorf("server saw %d requests, want exactly 1", n)
			}
		})
	}
}

func TestNotSentConnectionRefused(t *testing.T) {
	t.Parallel()
	c := newClient(t, closedPort(t))
	_, err := c.SendSms(context.Background(), sendReq("+8613800000000"))
	te := wantTransport(t, err, false, 0)
	if te.Action != "SendSms" || te.Err == nil {
		t.Errorf("TransportError %+v", te)
	}
}

func TestNotSentContextAlreadyCanceled(t *testing.T) {
	t.Parallel()
	f := newFake(t, func(call) reply { return ok(map[string]any{}) })
	c := newClient(t, f.url())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.SendSms(ctx, sendReq("+8613800000000"))
	wantTransport(t, err, false, 0)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error does not wrap context.Canceled: %v", err)
	}
	if n := f.requests.Load(); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

// With MaxConns 1 and the only connection held by a hanging call, a second
// call whose deadline passes while it waits for a connection was not sent.
func TestNotSentDeadlineWhileWaitingForConnection(t *testing.T) {
	t.Parallel()
	srvURL, got, requests := hangingServer(t)
	c := newClient(t, srvURL, func(cfg *tencentsms.Config) { cfg.MaxConns = 1 })

	firstCtx, cancelFirst := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := c.SendSms(firstCtx, sendReq("+8613800000001"))
		firstErr <- err
	}()
	<-got // the first request holds the only connection

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.SendSms(ctx, sendReq("+8613800000002"))
	wantTransport(t, err, false, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error does not wrap context.DeadlineExceeded: %v", err)
	}

	cancelFirst()
	err = <-firstErr
	wantTransport(t, err, true, 0) // canceled after writing: unknown
	if !errors.Is(err, context.Canceled) {
		t.Errorf("first call's error does not wrap context.Canceled: %v", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestOutcomeUnknownTimeoutAfterWrite(t *testing.T) {
	t.Parallel()
	srvURL, _, requests := hangingServer(t)
	c := newClient(t, srvURL, func(cfg *tencentsms.Config) { cfg.Timeout = 300 * time.Millisecond })
	_, err := c.SendSms(context.Background(), sendReq("+8613800000000"))
	wantTransport(t, err, true, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error does not wrap context.DeadlineExceeded: %v", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("server saw %d requests, want exactly 1 (no retry)", n)
	}
}

func TestOutcomeUnknownCallerCancelsAfterWrite(t *testing.T) {
	t.Parallel()
	srvURL, got, requests := hangingServer(t)
	c := newClient(t, srvURL)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-got
		cancel()
	}()
	_, err := c.SendSms(ctx, sendReq("+8613800000000"))
	wantTransport(t, err, true, 0)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error does not wrap context.Canceled: %v", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("server saw %d requests, want 1", n)
	}
}

func TestOutcomeUnknownConnectionClosed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		raw    string // written before closing
		status int
	}{
		{"closed without answer", "", 0},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"Response\":{", http.StatusOK},
		{"garbage instead of HTTP", "SSH-2.0-OpenSSH_9.6\r\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srvURL, requests := hijackServer(t, tt.raw)
			c := newClient(t, srvURL)
			_, err := c.SendSms(context.Background(), sendReq(phoneNumbers(200)...))
			wantTransport(t, err, true, tt.status)
			if n := requests.Load(); n != 1 {
				t.Errorf("server saw %d requests, want exactly 1 (no retry)", n)
			}
		})
	}
}

func TestOutcomeUnknownUnusableResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rep  reply
	}{
		{"502 HTML from a proxy", reply{Status: http.StatusBadGateway, Raw: "<html><body>502 Bad Gateway</body></html>"}},
		{"503 empty", reply{Status: http.StatusServiceUnavailable}},
		{"500 with a success-shaped body", reply{Status: http.StatusInternalServerError, Response: map[string]any{"SendStatusSet": []any{}}}},
		{"200 not JSON", reply{Status: http.StatusOK, Raw: "OK"}},
		{"200 empty object", reply{Status: http.StatusOK, Raw: "{}"}},
		{"200 null Response", reply{Status: http.StatusOK, Raw: `{"Response":null}`}},
		{"200 JSON null (panics inside the SDK)", reply{Status: http.StatusOK, Raw: `null`}},
		{"200 legacy error shape without code", reply{Status: http.StatusOK, Raw: `{"code":1,"message":"x"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, func(call) reply { return tt.rep })
			c := newClient(t, f.url())
			_, err := c.SendSms(context.Background(), sendReq("+8613800000000"))
			wantTransport(t, err, true, tt.rep.Status)
			if n := f.requests.Load(); n != 1 {
				t.Errorf("server saw %d requests, want exactly 1", n)
			}
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	var origin, followed atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		followed.Add(1)
		io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(target.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin.Add(1)
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, srv.URL)
	_, err := c.SendSms(context.Background(), sendReq("+8613800000000"))
	wantTransport(t, err, true, http.StatusTemporaryRedirect)
	if origin.Load() != 1 || followed.Load() != 0 {
		t.Errorf("requests: origin %d, redirect target %d; want 1, 0", origin.Load(), followed.Load())
	}
}

// Every method shares the classification; spot-check a read call too.
func TestPullSendStatusTransportErrors(t *testing.T) {
	t.Parallel()
	c := newClient(t, closedPort(t))
	_, err := c.PullSendStatus(context.Background(), testAppID, 100)
	te := wantTransport(t, err, false, 0)
	if te.Action != "PullSmsSendStatus" {
		t.Errorf("Action %q", te.Action)
	}

	srvURL, _ := hijackServer(t, "")
	c = newClient(t, srvURL)
	_, err = c.PullSendStatus(context.Background(), testAppID, 100)
	wantTransport(t, err, true, 0)
}
