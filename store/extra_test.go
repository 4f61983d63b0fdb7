package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestPopParked(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if _, ok, err := e.s.PopParked(ctx, testApp); ok || err != nil {
			t.Fatalf("PopParked with nothing parked = %v, %v", ok, err)
		}
		if err := e.s.Halt(ctx, testApp, "H", t0); err != nil {
			t.Fatal(err)
		}
		for b := range 3 {
			if err := e.s.Park(ctx, testApp, "j", b); err != nil {
				t.Fatal(err)
			}
		}
		ref, ok, err := e.s.PopParked(ctx, testApp)
		if err != nil || !ok || ref.Job != "j" {
			t.Fatalf("PopParked = %+v, %v, %v", ref, ok, err)
		}
		refs, err := e.s.Resume(ctx, testApp)
		if err != nil || len(refs) != 2 || slices.Contains(refs, ref) {
			t.Fatalf("Resume after a pop = %v, %v (popped %v)", refs, err, ref)
		}
		// Not halted any more: nothing to pop even if something were parked.
		if _, ok, _ := e.s.PopParked(ctx, testApp); ok {
			t.Fatal("PopParked returned a batch of an app that is not halted")
		}
	})
}

func TestApps(t *testing.T) {
	t.Parallel()
	backendsOpts(t, Options{Retention: 10 * time.Hour}, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := testJob("a")
		a.AppID = "app-a"
		e.create(t, a, 2, 2)
		b := testJob("b")
		b.AppID = "app-b"
		e.create(t, b, 2, 2)
		// Job b finishes at once (cancelled): its receipts may still come, its app stays listed.
		if _, err := e.s.Cancel(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		c := testJob("c")
		c.AppID = "app-c"
		c.SendAt = t0.Add(20 * time.Hour) // scheduled beyond retention
		e.create(t, c, 2, 2)
		if apps, err := e.s.Apps(ctx); err != nil || fmt.Sprint(apps) != "[app-a app-b app-c]" {
			t.Fatalf("Apps = %v, %v", apps, err)
		}
		// Past retention only apps of jobs still active or scheduled remain.
		e.clock.Add(11 * time.Hour)
		if apps, err := e.s.Apps(ctx); err != nil || fmt.Sprint(apps) != "[app-a app-c]" {
			t.Fatalf("Apps after retention = %v, %v", apps, err)
		}
	})
}

func TestUnknownBatches(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.create(t, testJob("j"), 8, 2) // batches 0..3
		if got, err := e.s.UnknownBatches(ctx, "j"); err != nil || len(got) != 0 {
			t.Fatalf("UnknownBatches = %v, %v", got, err)
		}
		c1 := e.mustClaim(t, "j", 1, "t1")
		e.commit(t, "j", 1, "t1", []NumberResult{{Index: c1.Indexes[0], State: Sent}}) // the other: unknown
		e.mustClaim(t, "j", 3, "t3")
		e.clock.Add(DefaultClaimLease)
		if o := e.claim(t, "j", 3, "again").Outcome; o != Unresolved {
			t.Fatalf("claim = %v", o)
		}
		if got, err := e.s.UnknownBatches(ctx, "j"); err != nil || !slices.Equal(got, []int{1, 3}) {
			t.Fatalf("UnknownBatches = %v, %v", got, err)
		}
		if _, _, err := e.s.ResendUnknown(ctx, "j", 1, t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.s.UnknownBatches(ctx, "j"); !slices.Equal(got, []int{3}) {
			t.Fatalf("UnknownBatches after resend = %v", got)
		}
	})
}
