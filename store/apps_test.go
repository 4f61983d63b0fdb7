package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smsdispatch/smsdispatch/internal/redistest"
)

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
		c.SendAt = redistest.T0.Add(20 * time.Hour) // scheduled beyond retention
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
