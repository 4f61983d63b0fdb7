package store

import (
	"context"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

// TestPullMark: a mark taken records a suspected loss at its time (the latest of several wins)
// and is gone; a cleared mark records nothing.
func TestPullMark(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if loss, err := e.s.ReceiptLossSuspected(ctx); err != nil || !loss.IsZero() {
			t.Fatalf("ReceiptLossSuspected on a new store = %v, %v", loss, err)
		}
		if err := e.s.MarkPull(ctx, "1400000001", "a", redistest.T0); err != nil {
			t.Fatal(err)
		}
		if err := e.s.ClearPull(ctx, "1400000001", "a"); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := e.s.TakePullMark(ctx, "1400000001"); err != nil || ok {
			t.Fatalf("TakePullMark after ClearPull = %v, %v; want none", ok, err)
		}
		// Another puller's mark is not cleared: puller b pulls, a (whose lease ran out) clears.
		if err := e.s.MarkPull(ctx, "1400000001", "b", redistest.T0); err != nil {
			t.Fatal(err)
		}
		if err := e.s.ClearPull(ctx, "1400000001", "a"); err != nil {
			t.Fatal(err)
		}
		if got, ok, err := e.s.TakePullMark(ctx, "1400000001"); err != nil || !ok || !got.Equal(redistest.T0) {
			t.Fatalf("TakePullMark of b's mark after a's ClearPull = %v, %v, %v; want %v", got, ok, err, redistest.T0)
		}
		later := redistest.T0.Add(time.Minute)
		for _, at := range []time.Time{later, redistest.T0} {
			if err := e.s.MarkPull(ctx, "1400000001", "a", at); err != nil {
				t.Fatal(err)
			}
			got, ok, err := e.s.TakePullMark(ctx, "1400000001")
			if err != nil || !ok || !got.Equal(at) {
				t.Fatalf("TakePullMark = %v, %v, %v; want %v", got, ok, err, at)
			}
		}
		if _, ok, _ := e.s.TakePullMark(ctx, "1400000001"); ok {
			t.Fatal("a taken mark was taken again")
		}
		if loss, err := e.s.ReceiptLossSuspected(ctx); err != nil || !loss.Equal(later) {
			t.Fatalf("ReceiptLossSuspected = %v, %v; want the latest, %v", loss, err, later)
		}
	})
}
