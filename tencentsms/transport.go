package tencentsms

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
)

// errRedirect is returned for a second HTTP exchange within one call: the
// SDK's retries are off, so that can only be http.Client following a
// redirect, which would re-send the POST.
var errRedirect = errors.New("refused to follow a redirect")

// callState records what happened to the HTTP exchange of one call. The
// classifying transport writes it (partly from net/http's writer goroutine);
// the client reads it after the SDK returns.
type callState struct {
	mu        sync.Mutex
	exchanges int   // round trips started
	written   bool  // a complete request was handed to a connection
	status    int   // HTTP status of the response, 0 if none
	rtErr     error // error of the last round trip
	bodyErr   error // first error reading the response body (not io.EOF)
}

type callStateKey struct{}

func withCallState(ctx context.Context, st *callState) context.Context {
	return context.WithValue(ctx, callStateKey{}, st)
}

func callStateFrom(ctx context.Context) *callState {
	st, _ := ctx.Value(callStateKey{}).(*callState)
	return st
}

// snapshot is a copy of callState's fields, read under its lock.
type snapshot struct {
	exchanges int
	written   bool
	status    int
	rtErr     error
	bodyErr   error
}

func (st *callState) snapshot() snapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	return snapshot{st.exchanges, st.written, st.status, st.rtErr, st.bodyErr}
}

// classifyingTransport wraps the real transport. For each request carrying a
// callState in its context it installs an httptrace.ClientTrace and records
// whether the request was written, the response status and body read errors.
type classifyingTransport struct {
	next http.RoundTripper
}

func (t *classifyingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := callStateFrom(req.Context())
	if st == nil {
		return t.next.RoundTrip(req)
	}
	st.mu.Lock()
	st.exchanges++
	first := st.exchanges == 1
	st.mu.Unlock()
	if !first {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper must close the body, even on error
		}
		st.mu.Lock()
		st.rtErr = errRedirect
		st.mu.Unlock()
		return nil, errRedirect
	}

	trace := &httptrace.ClientTrace{
		// WroteRequest fires once the whole request (headers and body) has
		// been written to the connection's buffer, just before the final
		// flush: a flush that then fails still counts as written, which errs
		// on the safe side (unknown rather than not sent). Err != nil means
		// the request was cut short, so the server cannot have a complete
		// request to act on. net/http may call this again if it
		// transparently retries a request that provably wrote nothing on a
		// reused connection; once written, a call stays written.
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				st.mu.Lock()
				st.written = true
				st.mu.Unlock()
			}
		},
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		st.mu.Lock()
		st.rtErr = err
		st.mu.Unlock()
		return nil, err
	}
	st.mu.Lock()
	st.status = resp.StatusCode
	st.mu.Unlock()
	resp.Body = &recordingBody{rc: resp.Body, st: st}
	return resp, nil
}

// CloseIdleConnections forwards to the wrapped transport, if it can.
func (t *classifyingTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// recordingBody records the first read error of a response body.
type recordingBody struct {
	rc io.ReadCloser
	st *callState
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF {
		b.st.mu.Lock()
		if b.st.bodyErr == nil {
			b.st.bodyErr = err
		}
		b.st.mu.Unlock()
	}
	return n, err
}

func (b *recordingBody) Close() error { return b.rc.Close() }
