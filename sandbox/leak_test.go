package sandbox

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Not parallel: it owns the process's goroutines while it runs.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rc := &receiver{}
	cb := httptest.NewServer(rc)
	defer cb.Close()
	cfg := DefaultConfig()
	cfg.ReceiptDelay = 0
	cfg.CallbackURL = cb.URL
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, signedSend(t, []string{"+8613800000099"}, time.Now()))
	if !strings.Contains(rec.Body.String(), `"Code":"Ok"`) {
		t.Fatalf("reply %s", rec.Body.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.FlushCallbacks(ctx); err != nil {
		t.Fatal(err)
	}
	if got := srv.Stats().CallbackItems; got != 1 {
		t.Errorf("CallbackItems = %d", got)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}
